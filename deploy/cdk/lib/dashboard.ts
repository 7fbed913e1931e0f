// The CloudWatch dashboard's body: the Terraform module's template
// (deploy/terraform/modules/mcp_server/dashboard.json.tftpl) with its placeholders turned into
// Fn::Sub variables, so the Terraform and CDK dashboards cannot drift. (The CloudFormation
// template carries the same body inline; tests/deploy/test_metrics.py compares all three.)

import { readFileSync } from 'node:fs';

import { Fn } from 'aws-cdk-lib';

const TEMPLATE = new URL('../../terraform/modules/mcp_server/dashboard.json.tftpl', import.meta.url);

const PLACEHOLDERS: Record<string, string> = {
  region: '${AWS::Region}',
  namespace: 'QuiltMcp/${Name}',
  name: '${Name}',
  load_balancer: '${LoadBalancer}',
  target_group: '${TargetGroup}',
};

/** The body as one JSON line with CloudFormation substitutions. */
export function dashboardBodyText(): string {
  const compact = JSON.stringify(JSON.parse(readFileSync(TEMPLATE, 'utf8')));
  return compact.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = PLACEHOLDERS[name];
    if (value === undefined) {
      throw new Error(`dashboard template: unknown placeholder \${${name}}`);
    }
    return value;
  });
}

/** Fn::Sub of the body, with the load balancer and target group names given. */
export function dashboardBody(loadBalancer: string, targetGroup: string): string {
  return Fn.sub(dashboardBodyText(), { LoadBalancer: loadBalancer, TargetGroup: targetGroup });
}
