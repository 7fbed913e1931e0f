// quilt-mcp-server on ECS Fargate behind an existing ALB HTTPS listener: the CDK flavour of
// deploy/cloudformation/mcp-server.yaml, with the same parameters, rules, conditions and
// resources (tests/deploy/test_cdk.py compares the synthesized template with it). Written with
// the L1 (Cfn*) constructs on purpose: the higher-level ECS and IAM constructs add policies,
// roles and resources of their own, and the point of this flavour is the same reviewed
// security posture in a CDK codebase, not a different one. The stack is environment-agnostic
// (no account or region at synth time), so `cdk synth` runs offline.

import {
  Aws,
  CfnCondition,
  CfnMapping,
  CfnOutput,
  CfnParameter,
  type CfnParameterProps,
  CfnRule,
  Fn,
  type ICfnConditionExpression,
  type ICfnRuleConditionExpression,
  Stack,
  Token,
  type StackProps,
} from 'aws-cdk-lib';
import * as applicationautoscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

import { dashboardBody } from './dashboard.ts';
import { TUNABLES, parameterName } from './settings.ts';

// The parameters, as in the template (same names, types, defaults and patterns).
const PARAMETERS: Record<string, CfnParameterProps> = {
  Name: { type: "String", default: "quilt-mcp", allowedPattern: "^[a-z][a-z0-9-]{1,30}$", constraintDescription: "2-31 characters, lower-case letters, digits and '-', starting with a letter." },
  Image: { type: "String", description: "Container image of quilt-mcp-server, ideally pinned by digest (repo@sha256:...).", allowedPattern: "^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", constraintDescription: "a repository with an explicit tag or an @sha256 digest." },
  EcrRepositoryArn: { type: "String", default: "", description: "ECR repository holding the image (the execution role may pull only from it); empty for a public image.", allowedPattern: "^(|arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9][a-z0-9._/-]*)$", constraintDescription: "empty or an ECR repository ARN (no wildcard)." },
  Cpu: { type: "Number", default: 512 },
  Memory: { type: "Number", default: 1024 },
  DesiredCount: { type: "Number", default: 2, minValue: 2, description: "Tasks to run; at least 2." },
  MaxCount: { type: "Number", default: 10, minValue: 2 },
  VpcId: { type: "AWS::EC2::VPC::Id" },
  PrivateSubnetIds: { type: "List<AWS::EC2::Subnet::Id>", description: "Private subnets for the tasks (no public IPs); at least two, in different AZs." },
  AlbListenerArn: { type: "String", description: "HTTPS listener of the existing ALB.", allowedPattern: "^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/[A-Za-z0-9-]+/[0-9a-f]+/[0-9a-f]+$", constraintDescription: "an Application Load Balancer listener ARN." },
  AlbSecurityGroupId: { type: "AWS::EC2::SecurityGroup::Id", description: "Security group of the ALB, the only source allowed to reach the tasks." },
  ListenerRulePriority: { type: "Number", default: 100, minValue: 1, maxValue: 50000 },
  EgressCidr: { type: "String", default: "0.0.0.0/0", description: "Where tasks may open HTTPS (443) connections; narrow it to your VPC endpoints' CIDR when everything goes through endpoints.", allowedPattern: "^[0-9]{1,3}([.][0-9]{1,3}){3}/[0-9]{1,2}$", constraintDescription: "an IPv4 CIDR block." },
  PublicUrl: { type: "String", description: "Public https base URL clients use (MCP_PUBLIC_URL).", allowedPattern: "^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", constraintDescription: "an https:// origin without a path." },
  JwtSecretArn: { type: "String", default: "", description: "Secrets Manager ARN of the HS256 secret (MCP_JWT_SECRET), never the secret itself. Empty when JwtJwksUrl is used.", allowedPattern: "^(|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)$", constraintDescription: "a Secrets Manager secret ARN; a plain-text secret is refused." },
  JwtSecretPreviousArn: { type: "String", default: "", description: "Secrets Manager ARN of the previous HS256 secret (MCP_JWT_SECRET_PREVIOUS), during a rotation only.", allowedPattern: "^(|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)$", constraintDescription: "a Secrets Manager secret ARN; a plain-text secret is refused." },
  HandleKeyArn: { type: "String", default: "", description: "Secrets Manager ARN of the handle key (MCP_HANDLE_KEY, at least 32 bytes, the same on every task), never the key itself. Required with JwtJwksUrl; optional with JwtSecretArn.", allowedPattern: "^(|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+)$", constraintDescription: "a Secrets Manager secret ARN; a plain-text key is refused." },
  SecretsKmsKeyArn: { type: "String", default: "", description: "Customer-managed KMS key of the JWT secrets and the handle key, if any.", allowedPattern: "^(|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+)$", constraintDescription: "empty or a KMS key ARN." },
  JwtJwksUrl: { type: "String", default: "", description: "JWKS URL (MCP_JWT_JWKS_URL) instead of an HS256 secret.", allowedPattern: "^(|https://[^\\s]+)$", constraintDescription: "an https URL." },
  JwtIssuer: { type: "String", default: "" },
  JwtAudience: { type: "String", default: "" },
  JwtAllowMissingAud: { type: "String", default: "false", allowedValues: ["true", "false"], description: "MCP_JWT_ALLOW_MISSING_AUD, accept tokens without an aud claim (Quilt catalog tokens have none); a token with aud must still name this server." },
  CredentialSources: { type: "CommaDelimitedList", default: "jwt,role_claim,catalog,stack_roles", description: "MCP_CREDENTIAL_SOURCES in order; 'ambient' is refused." },
  ReadRoleArn: { type: "String", default: "", description: "Stack read role (QUILT_READ_ROLE_ARN).", allowedPattern: "^(|arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})$", constraintDescription: "empty or an IAM role ARN without wildcards." },
  WriteRoleArn: { type: "String", default: "", description: "Stack write role (QUILT_WRITE_ROLE_ARN).", allowedPattern: "^(|arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})$", constraintDescription: "empty or an IAM role ARN without wildcards." },
  QuiltStackName: { type: "String", default: "", description: "Quilt stack whose T4BucketReadRole/T4BucketWriteRole are discovered at start-up (QUILT_STACK_NAME).", allowedPattern: "^(|[A-Za-z][A-Za-z0-9-]{0,127})$" },
  RoleClaimAllowedArns: { type: "String", default: "", description: "Comma-separated role ARNs (a trailing '*' allowed) a token's role_arn may name (MCP_ROLE_ARN_ALLOW).", allowedPattern: "^(|arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+[*]?(,arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+[*]?)*)$", constraintDescription: "IAM role ARNs with a literal account and role-name prefix, only a trailing '*'." },
  RegistryUrl: { type: "String", default: "", description: "Quilt registry for the catalog credential source (QUILT_REGISTRY_URL).", allowedPattern: "^(|https://[^\\s]+)$" },
  Buckets: { type: "String", description: "Comma-separated buckets (or bucket/prefix/) this deployment serves (QUILT_BUCKETS); wildcards are refused.", allowedPattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^*?,\\s]*)?(,[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^*?,\\s]*)?)*$", constraintDescription: "at least one bucket name or bucket/prefix/, comma separated; wildcards ('*', '?') are refused." },
  CatalogUrl: { type: "String", default: "", description: "Quilt catalog URL for the catalog tools (QUILT_CATALOG_URL).", allowedPattern: "^(|https://[^\\s]+)$", constraintDescription: "an https URL." },
  RequireScopes: { type: "String", default: "true", allowedValues: ["true", "false"], description: "MCP_REQUIRE_SCOPES. Quilt catalog tokens carry no scope claim; set false beside a Quilt stack (the catalog's roles and IAM decide), or give ScopeMap." },
  ScopeMap: { type: "String", default: "", description: "MCP_SCOPE_MAP, server_scope=token_scope comma separated (e.g. quilt:read=catalog.read).", allowedPattern: "^(|[a-z]+:[a-z]+=[^,=\\s]+(,[a-z]+:[a-z]+=[^,=\\s]+)*)$", constraintDescription: "server_scope=token_scope pairs, comma separated." },
  S3Sse: { type: "String", default: "AES256", allowedValues: ["AES256", "aws:kms", "none"], description: "S3_SSE, server-side encryption on every write." },
  S3SseKmsKeyId: { type: "String", default: "", description: "S3_SSE_KMS_KEY_ID, the KMS key ARN for S3Sse=aws:kms (required then).", allowedPattern: "^(|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+)$", constraintDescription: "empty or a KMS key ARN (no alias, no wildcard)." },
  PermissionWriteProbePrefix: { type: "String", default: "", description: "MCP_PERMISSION_WRITE_PROBE_PREFIX, key prefix (ending in /) for write probes; empty = no probes.", allowedPattern: "^(|[^*?,\\s]+/)$", constraintDescription: "empty or a key prefix ending in '/' without wildcards." },
  AthenaWorkgroup: { type: "String", default: "primary", allowedPattern: "^[A-Za-z0-9._-]{1,128}$" },
  AthenaAllowedWorkgroups: { type: "String", default: "", description: "ATHENA_ALLOWED_WORKGROUPS, comma separated (empty = only AthenaWorkgroup).", allowedPattern: "^(|[A-Za-z0-9._-]{1,128}(,[A-Za-z0-9._-]{1,128})*)$" },
  AthenaOutputLocation: { type: "String", default: "", description: "ATHENA_OUTPUT_LOCATION, s3://bucket/prefix/ for results when the workgroup sets none.", allowedPattern: "^(|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^*?,\\s]*)$" },
  AwsRegion: { type: "String", default: "", description: "Region of the server's AWS clients (AWS_REGION); empty for the stack's own.", allowedPattern: "^(|[a-z]{2}(-[a-z]+)+-[0-9])$" },
  ShutdownGraceS: { type: "Number", default: 25, allowedValues: ["10", "15", "20", "25", "30", "45", "55", "60", "90", "115"], description: "MCP_SHUTDOWN_GRACE_S; the container's StopTimeout is this plus 5 s (StopTimeoutFor)." },
  LogRetentionDays: { type: "Number", default: 365, allowedValues: ["1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"] },
  LogKmsKeyArn: { type: "String", default: "", allowedPattern: "^(|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+)$" },
  AlarmTopicArn: { type: "String", default: "", allowedPattern: "^(|arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+)$" },
  AuthErrorRatePercent: { type: "Number", default: 1, description: "Refused tokens, in % of authentications over 5 minutes, that raise the auth-error-rate alarm (seed 002: under 1 %)." },
  ToolErrorRatePercent: { type: "Number", default: 5, description: "Failed tool calls, in % of calls over 5 minutes, that raise the tool-error-rate alarm." },
  AuthFailureThreshold: { type: "Number", default: 50 },
  CpuTargetPercent: { type: "Number", default: 60 },
  RequestsPerTarget: { type: "Number", default: 600 },};

export interface McpServerStackProps extends StackProps {
  /** Parameter defaults to use instead of the template's (the examples set them). */
  readonly defaults?: Record<string, string>;
}

export class McpServerStack extends Stack {
  constructor(scope: Construct, id: string, props: McpServerStackProps = {}) {
    super(scope, id, props);
    this.templateOptions.description =
      'quilt-mcp-server on ECS Fargate behind an existing ALB HTTPS listener (CDK flavour of ' +
      'deploy/cloudformation/mcp-server.yaml): separate execution and task roles, the JWT secret and ' +
      'the handle key only through the task definition\'s Secrets, egress 443 only, /healthz target group, alarms, ' +
      'a dashboard and autoscaling. Rules and AllowedPattern refuse unsafe input before anything is created.';

    const p: Record<string, CfnParameter> = {};
    for (const [name, spec] of Object.entries(PARAMETERS)) {
      // AllowedValues are strings in CloudFormation: a number default must be one as well.
      const fallback = spec.allowedValues && typeof spec.default === 'number' ? String(spec.default) : spec.default;
      p[name] = new CfnParameter(this, name, { ...spec, default: props.defaults?.[name] ?? fallback });
    }
    for (const t of TUNABLES) {
      const name = parameterName(t.env);
      p[name] = new CfnParameter(this, name, {
        type: 'String',
        default: props.defaults?.[name] ?? '',
        allowedPattern: t.pattern,
        constraintDescription: t.constraint,
        description: t.env,
      });
    }
    const ref = (name: string) => p[name].valueAsString;
    const refList = (name: string) => p[name].valueAsList;

    new CfnMapping(this, 'StopTimeoutFor', {
      mapping: {
        ShutdownGraceS: Object.fromEntries(
          [10, 15, 20, 25, 30, 45, 55, 60, 90, 115].map((g) => [String(g), g + 5]),
        ),
      },
    });

    // --- Rules: the input checks CloudFormation runs before creating anything ---------------
    const rule = (id: string, assert: ICfnRuleConditionExpression, description: string, when?: ICfnRuleConditionExpression) =>
      new CfnRule(this, id, { ruleCondition: when, assertions: [{ assert, assertDescription: description }] });
    rule(
      'KnownCredentialSources',
      Fn.conditionEachMemberIn(refList('CredentialSources'), ['jwt', 'role_claim', 'catalog', 'stack_roles']),
      "CredentialSources may list only jwt, role_claim, catalog, stack_roles ('ambient' is not allowed on ECS).",
    );
    rule(
      'StackRolesNeedRoles',
      Fn.conditionNot(Fn.conditionAnd(Fn.conditionEquals(ref('ReadRoleArn'), ''), Fn.conditionEquals(ref('QuiltStackName'), ''))),
      'CredentialSources includes stack_roles, so ReadRoleArn (and optionally WriteRoleArn) or QuiltStackName must be set.',
      Fn.conditionContains(refList('CredentialSources'), 'stack_roles'),
    );
    rule(
      'OneJwtKeySource',
      Fn.conditionOr(
        Fn.conditionAnd(Fn.conditionNot(Fn.conditionEquals(ref('JwtSecretArn'), '')), Fn.conditionEquals(ref('JwtJwksUrl'), '')),
        Fn.conditionAnd(Fn.conditionEquals(ref('JwtSecretArn'), ''), Fn.conditionNot(Fn.conditionEquals(ref('JwtJwksUrl'), ''))),
      ),
      'Set exactly one of JwtSecretArn (a Secrets Manager ARN) and JwtJwksUrl.',
    );
    new CfnRule(this, 'PreviousSecretNeedsCurrent', {
      ruleCondition: Fn.conditionNot(Fn.conditionEquals(ref('JwtSecretPreviousArn'), '')),
      assertions: [
        { assert: Fn.conditionNot(Fn.conditionEquals(ref('JwtSecretArn'), '')), assertDescription: 'JwtSecretPreviousArn is set without JwtSecretArn.' },
        {
          assert: Fn.conditionNot(Fn.conditionEquals(ref('JwtSecretPreviousArn'), ref('JwtSecretArn'))),
          assertDescription: 'JwtSecretPreviousArn must name a different secret than JwtSecretArn.',
        },
      ],
    });
    // DesiredCount and MaxCount are at least 2 (minValue): every deployment runs more than one
    // task, so a JWKS-only one always needs the shared handle key.
    rule(
      'JwksOnlyNeedsHandleKey',
      Fn.conditionNot(Fn.conditionEquals(ref('HandleKeyArn'), '')),
      'JwtJwksUrl without JwtSecretArn needs HandleKeyArn (a Secrets Manager ARN); with no JWT secret to derive MCP_HANDLE_KEY from, each of the (at least 2) tasks would seal page tokens and tag Athena executions with its own random key, and they would fail on the other tasks.',
      Fn.conditionEquals(ref('JwtSecretArn'), ''),
    );
    rule(
      'HandleKeyIsItsOwnSecret',
      Fn.conditionAnd(
        Fn.conditionNot(Fn.conditionEquals(ref('HandleKeyArn'), ref('JwtSecretArn'))),
        Fn.conditionNot(Fn.conditionEquals(ref('HandleKeyArn'), ref('JwtSecretPreviousArn'))),
      ),
      'HandleKeyArn must name its own secret, not JwtSecretArn or JwtSecretPreviousArn (one key for one purpose; a JWT rotation must not void page tokens).',
      Fn.conditionNot(Fn.conditionEquals(ref('HandleKeyArn'), '')),
    );
    rule(
      'KmsNeedsKey',
      Fn.conditionNot(Fn.conditionEquals(ref('S3SseKmsKeyId'), '')),
      'S3Sse is aws:kms, so S3SseKmsKeyId must name the KMS key ARN (the write role may use only that key).',
      Fn.conditionEquals(ref('S3Sse'), 'aws:kms'),
    );
    rule(
      'KeyNeedsKms',
      Fn.conditionEquals(ref('S3Sse'), 'aws:kms'),
      'S3SseKmsKeyId is set, but S3Sse is not aws:kms; the key would never be used.',
      Fn.conditionNot(Fn.conditionEquals(ref('S3SseKmsKeyId'), '')),
    );
    rule(
      'CatalogTokensNeedScopesOffOrAMap',
      Fn.conditionAnd(Fn.conditionEquals(ref('RegistryUrl'), ''), Fn.conditionEquals(ref('CatalogUrl'), '')),
      'Quilt catalog tokens carry no scope claim; with RegistryUrl or CatalogUrl set, RequireScopes=true would leave callers only auth_status. Set RequireScopes=false (the catalog\'s roles and IAM decide) or give ScopeMap.',
      Fn.conditionAnd(Fn.conditionEquals(ref('RequireScopes'), 'true'), Fn.conditionEquals(ref('ScopeMap'), '')),
    );

    // --- Conditions -----------------------------------------------------------------------------
    const cond: Record<string, CfnCondition> = {};
    const condition = (name: string, expression: ICfnConditionExpression) => {
      cond[name] = new CfnCondition(this, name, { expression });
      return cond[name];
    };
    const notEmpty = (param: string) => Fn.conditionNot(Fn.conditionEquals(ref(param), ''));
    for (const [name, param] of [
      ['HasEcrRepository', 'EcrRepositoryArn'],
      ['HasJwtSecret', 'JwtSecretArn'],
      ['HasJwtSecretPrevious', 'JwtSecretPreviousArn'],
      ['HasHandleKey', 'HandleKeyArn'],
      ['HasSecretsKmsKey', 'SecretsKmsKeyArn'],
    ]) {
      condition(name, notEmpty(param));
    }
    condition('HasAnyJwtSecret', Fn.conditionOr(cond.HasJwtSecret, cond.HasJwtSecretPrevious));
    for (const [name, param] of [
      ['HasJwksUrl', 'JwtJwksUrl'],
      ['HasJwtIssuer', 'JwtIssuer'],
      ['HasJwtAudience', 'JwtAudience'],
      ['HasReadRole', 'ReadRoleArn'],
      ['HasWriteRole', 'WriteRoleArn'],
      ['HasQuiltStack', 'QuiltStackName'],
      ['HasRoleClaimArns', 'RoleClaimAllowedArns'],
      ['HasRegistryUrl', 'RegistryUrl'],
      ['HasAwsRegion', 'AwsRegion'],
      ['HasCatalogUrl', 'CatalogUrl'],
      ['HasScopeMap', 'ScopeMap'],
      ['HasS3SseKmsKeyId', 'S3SseKmsKeyId'],
      ['HasPermissionWriteProbePrefix', 'PermissionWriteProbePrefix'],
      ['HasAthenaAllowedWorkgroups', 'AthenaAllowedWorkgroups'],
      ['HasAthenaOutputLocation', 'AthenaOutputLocation'],
      ...TUNABLES.map((t) => [`Has${parameterName(t.env)}`, parameterName(t.env)]),
      ['HasLogKmsKey', 'LogKmsKeyArn'],
      ['HasAlarmTopic', 'AlarmTopicArn'],
    ]) {
      condition(name, notEmpty(param));
    }
    condition('HasStackRoles', Fn.conditionOr(cond.HasReadRole, cond.HasWriteRole, cond.HasQuiltStack));
    condition('HasTaskPolicy', Fn.conditionOr(cond.HasStackRoles, cond.HasRoleClaimArns));
    const ifThen = (name: string, value: unknown) => Fn.conditionIf(name, value, Aws.NO_VALUE);

    // --- network: in only from the ALB on 8000, out only on 443 ----------------------------------
    const taskSg = new ec2.CfnSecurityGroup(this, 'TaskSecurityGroup', {
      groupDescription: 'quilt-mcp-server tasks: ingress from the ALB only, egress 443 only',
      vpcId: ref('VpcId'),
      securityGroupIngress: [
        { description: 'MCP traffic from the ALB', ipProtocol: 'tcp', fromPort: 8000, toPort: 8000, sourceSecurityGroupId: ref('AlbSecurityGroupId') },
      ],
      securityGroupEgress: [
        { description: 'HTTPS to AWS APIs, the JWKS URL and the Quilt registry', ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: ref('EgressCidr') },
      ],
      tags: [{ key: 'Name', value: Fn.sub('${Name}-task') }],
    });
    new ec2.CfnSecurityGroupEgress(this, 'AlbToTaskEgress', {
      groupId: ref('AlbSecurityGroupId'),
      description: 'ALB to quilt-mcp-server tasks',
      ipProtocol: 'tcp',
      fromPort: 8000,
      toPort: 8000,
      destinationSecurityGroupId: taskSg.ref,
    });

    // --- ALB: target group (/healthz) and listener rule -------------------------------------------
    const targetGroup = new elbv2.CfnTargetGroup(this, 'TargetGroup', {
      name: ref('Name'),
      vpcId: ref('VpcId'),
      targetType: 'ip',
      protocol: 'HTTP',
      port: 8000,
      healthCheckEnabled: true,
      healthCheckPath: '/healthz',
      healthCheckProtocol: 'HTTP',
      healthCheckPort: 'traffic-port',
      healthCheckIntervalSeconds: 15,
      healthCheckTimeoutSeconds: 5,
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
      matcher: { httpCode: '200' },
      // Longer than MCP_REQUEST_TIMEOUT_S (55 s): a draining task finishes its requests first.
      targetGroupAttributes: [{ key: 'deregistration_delay.timeout_seconds', value: '60' }],
    });
    const listenerRule = new elbv2.CfnListenerRule(this, 'ListenerRule', {
      listenerArn: ref('AlbListenerArn'),
      priority: p.ListenerRulePriority.valueAsNumber,
      actions: [{ type: 'forward', targetGroupArn: targetGroup.ref }],
      conditions: [{ field: 'path-pattern', pathPatternConfig: { values: ['/mcp', '/mcp/*', '/.well-known/oauth-protected-resource*'] } }],
    });

    // --- logs, the metric filters and the metric namespace ----------------------------------------
    const namespace = Fn.sub('QuiltMcp/${Name}');
    const logGroup = new logs.CfnLogGroup(this, 'LogGroup', {
      logGroupName: Fn.sub('/ecs/${Name}'),
      retentionInDays: p.LogRetentionDays.valueAsNumber,
      kmsKeyId: Token.asString(ifThen('HasLogKmsKey', ref('LogKmsKeyArn'))),
    });
    const filter = (id: string, pattern: string, metric: string) =>
      new logs.CfnMetricFilter(this, id, {
        logGroupName: logGroup.ref,
        filterPattern: pattern,
        metricTransformations: [{ metricName: metric, metricNamespace: namespace, metricValue: '1', defaultValue: 0 }],
      });
    filter('AuthFailuresFilter', '{ ($.event = "auth_failed") && ($.reason != "missing") }', 'AuthFailures');
    filter('RoleAssumptionFailuresFilter', '{ $.message = "stack role cannot be assumed" }', 'RoleAssumptionFailures');
    filter('RoleAssumedFilter', '{ $.message = "stack role assumed" }', 'RoleAssumed');

    // --- IAM: the execution role (ECS's) and the task role (the server's) share nothing ----------
    const ecsTrust = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'EcsTasks',
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
            ArnLike: { 'aws:SourceArn': Fn.sub('arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*') },
          },
        },
      ],
    };
    const executionRole = new iam.CfnRole(this, 'ExecutionRole', {
      roleName: Fn.sub('${Name}-execution'),
      description: 'ECS agent for quilt-mcp-server: image pull, logs, the JWT secret',
      maxSessionDuration: 3600,
      assumeRolePolicyDocument: ecsTrust,
      policies: [
        {
          policyName: Fn.sub('${Name}-execution'),
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Sid: 'WriteLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: Fn.sub('${LogGroup.Arn}:log-stream:*') },
              ifThen('HasAnyJwtSecret', {
                Sid: 'ReadJwtSecrets',
                Effect: 'Allow',
                Action: 'secretsmanager:GetSecretValue',
                Resource: [ifThen('HasJwtSecret', ref('JwtSecretArn')), ifThen('HasJwtSecretPrevious', ref('JwtSecretPreviousArn'))],
              }),
              ifThen('HasHandleKey', { Sid: 'ReadHandleKey', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ref('HandleKeyArn') }),
              ifThen('HasSecretsKmsKey', {
                Sid: 'DecryptJwtSecrets',
                Effect: 'Allow',
                Action: 'kms:Decrypt',
                Resource: ref('SecretsKmsKeyArn'),
                Condition: { StringEquals: { 'kms:ViaService': Fn.sub('secretsmanager.${AWS::Region}.amazonaws.com') } },
              }),
              ifThen('HasEcrRepository', {
                Sid: 'PullImage',
                Effect: 'Allow',
                Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
                Resource: ref('EcrRepositoryArn'),
              }),
              // GetAuthorizationToken has no resource-level permissions: AWS requires "*".
              ifThen('HasEcrRepository', { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }),
            ],
          },
        },
      ],
    });
    const taskRole = new iam.CfnRole(this, 'TaskRole', {
      roleName: Fn.sub('${Name}-task'),
      description: "quilt-mcp-server's own identity: assumes the configured roles only",
      maxSessionDuration: 3600,
      assumeRolePolicyDocument: ecsTrust,
    });
    const assume = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'];
    const taskRolePolicy = new iam.CfnRolePolicy(this, 'TaskRolePolicy', {
      roleName: taskRole.ref,
      policyName: Fn.sub('${Name}-task'),
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          ifThen('HasStackRoles', {
            Sid: 'AssumeStackRoles',
            Effect: 'Allow',
            Action: assume,
            Resource: [
              ifThen('HasReadRole', ref('ReadRoleArn')),
              ifThen('HasWriteRole', ref('WriteRoleArn')),
              // <stack>-T4Bucket…Role-<suffix>, or <stack>-<Nested>-<suffix>-T4Bucket…Role-<suffix> in a nested stack.
              ifThen('HasQuiltStack', Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${QuiltStackName}-*T4BucketReadRole-*')),
              ifThen('HasQuiltStack', Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${QuiltStackName}-*T4BucketWriteRole-*')),
            ],
          }),
          ifThen('HasRoleClaimArns', { Sid: 'AssumeClaimRoles', Effect: 'Allow', Action: assume, Resource: Fn.split(',', ref('RoleClaimAllowedArns')) }),
          ifThen('HasQuiltStack', {
            Sid: 'DiscoverStackRoles',
            Effect: 'Allow',
            Action: 'cloudformation:ListStackResources',
            // The stack and its nested stacks (named <stack>-<LogicalId>-<suffix>).
            Resource: [
              Fn.sub('arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${QuiltStackName}/*'),
              Fn.sub('arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${QuiltStackName}-*/*'),
            ],
          }),
        ],
      },
    });
    taskRolePolicy.cfnOptions.condition = cond.HasTaskPolicy;

    // --- ECS ----------------------------------------------------------------------------------------
    const cluster = new ecs.CfnCluster(this, 'Cluster', {
      clusterName: ref('Name'),
      clusterSettings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    const env = (name: string, value: string) => ({ name, value });
    // Inside Fn::If the properties are written as CloudFormation spells them (CDK converts only
    // the typed ones).
    const optional = (condName: string, name: string, param: string) => ifThen(condName, { Name: name, Value: ref(param) });
    const environment = [
      env('MCP_LISTEN', '0.0.0.0:8000'),
      env('MCP_PUBLIC_URL', ref('PublicUrl')),
      env('MCP_LOG_FORMAT', 'json'),
      env('MCP_SHUTDOWN_GRACE_S', ref('ShutdownGraceS')),
      env('MCP_CREDENTIAL_SOURCES', Fn.join(',', refList('CredentialSources'))),
      optional('HasRoleClaimArns', 'MCP_ROLE_ARN_ALLOW', 'RoleClaimAllowedArns'),
      optional('HasJwksUrl', 'MCP_JWT_JWKS_URL', 'JwtJwksUrl'),
      optional('HasJwtIssuer', 'MCP_JWT_ISSUER', 'JwtIssuer'),
      optional('HasJwtAudience', 'MCP_JWT_AUDIENCE', 'JwtAudience'),
      optional('HasReadRole', 'QUILT_READ_ROLE_ARN', 'ReadRoleArn'),
      optional('HasWriteRole', 'QUILT_WRITE_ROLE_ARN', 'WriteRoleArn'),
      optional('HasQuiltStack', 'QUILT_STACK_NAME', 'QuiltStackName'),
      optional('HasRegistryUrl', 'QUILT_REGISTRY_URL', 'RegistryUrl'),
      env('QUILT_BUCKETS', ref('Buckets')),
      env('ATHENA_WORKGROUP', ref('AthenaWorkgroup')),
      env('MCP_METRICS_NAMESPACE', namespace),
      env('MCP_JWT_ALLOW_MISSING_AUD', ref('JwtAllowMissingAud')),
      env('MCP_REQUIRE_SCOPES', ref('RequireScopes')),
      optional('HasScopeMap', 'MCP_SCOPE_MAP', 'ScopeMap'),
      optional('HasCatalogUrl', 'QUILT_CATALOG_URL', 'CatalogUrl'),
      env('S3_SSE', ref('S3Sse')),
      optional('HasS3SseKmsKeyId', 'S3_SSE_KMS_KEY_ID', 'S3SseKmsKeyId'),
      optional('HasPermissionWriteProbePrefix', 'MCP_PERMISSION_WRITE_PROBE_PREFIX', 'PermissionWriteProbePrefix'),
      optional('HasAthenaAllowedWorkgroups', 'ATHENA_ALLOWED_WORKGROUPS', 'AthenaAllowedWorkgroups'),
      optional('HasAthenaOutputLocation', 'ATHENA_OUTPUT_LOCATION', 'AthenaOutputLocation'),
      env('AWS_REGION', Token.asString(Fn.conditionIf('HasAwsRegion', ref('AwsRegion'), Aws.REGION))),
      ...TUNABLES.map((t) => optional(`Has${parameterName(t.env)}`, t.env, parameterName(t.env))),
    ];
    const taskDefinition = new ecs.CfnTaskDefinition(this, 'TaskDefinition', {
      family: ref('Name'),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: ref('Cpu'),
      memory: ref('Memory'),
      executionRoleArn: executionRole.attrArn,
      taskRoleArn: taskRole.attrArn,
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      // Fargate task storage, mounted at /tmp: the root filesystem is read-only, and
      // package_update spools a rewritten manifest to a scratch file.
      volumes: [{ name: 'scratch' }],
      containerDefinitions: [
        {
          name: 'quilt-mcp-server',
          image: ref('Image'),
          essential: true,
          readonlyRootFilesystem: true,
          privileged: false,
          user: '65532:65532',
          // ECS sends SIGTERM, waits StopTimeout, then SIGKILL: the grace plus 5 s.
          stopTimeout: Token.asNumber(Fn.findInMap('StopTimeoutFor', 'ShutdownGraceS', ref('ShutdownGraceS'))),
          portMappings: [{ containerPort: 8000, protocol: 'tcp' }],
          mountPoints: [{ sourceVolume: 'scratch', containerPath: '/tmp', readOnly: false }],
          linuxParameters: { capabilities: { drop: ['ALL'] } },
          healthCheck: {
            command: ['CMD', '/usr/local/bin/quilt-mcp-server', 'healthcheck'],
            interval: 15,
            timeout: 5,
            retries: 3,
            startPeriod: 15,
          },
          environment: environment as ecs.CfnTaskDefinition.KeyValuePairProperty[],
          secrets: [
            ifThen('HasJwtSecret', { Name: 'MCP_JWT_SECRET', ValueFrom: ref('JwtSecretArn') }),
            ifThen('HasJwtSecretPrevious', { Name: 'MCP_JWT_SECRET_PREVIOUS', ValueFrom: ref('JwtSecretPreviousArn') }),
            ifThen('HasHandleKey', { Name: 'MCP_HANDLE_KEY', ValueFrom: ref('HandleKeyArn') }),
          ] as unknown as ecs.CfnTaskDefinition.SecretProperty[],
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': logGroup.ref, 'awslogs-region': Aws.REGION, 'awslogs-stream-prefix': 'mcp' },
          },
        },
      ],
    });
    const service = new ecs.CfnService(this, 'Service', {
      serviceName: ref('Name'),
      cluster: cluster.ref,
      taskDefinition: taskDefinition.ref,
      desiredCount: p.DesiredCount.valueAsNumber,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      enableExecuteCommand: false,
      propagateTags: 'SERVICE',
      healthCheckGracePeriodSeconds: 30,
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
      networkConfiguration: {
        awsvpcConfiguration: { subnets: refList('PrivateSubnetIds'), securityGroups: [taskSg.ref], assignPublicIp: 'DISABLED' },
      },
      loadBalancers: [{ targetGroupArn: targetGroup.ref, containerName: 'quilt-mcp-server', containerPort: 8000 }],
    });
    service.addDependency(listenerRule);

    // --- autoscaling: CPU and requests per task, never below DesiredCount ------------------------
    const listenerPart = (i: number) => Fn.select(i, Fn.split('/', ref('AlbListenerArn')));
    const loadBalancer = Fn.join('/', [listenerPart(1), listenerPart(2), listenerPart(3)]);
    const scalableTarget = new applicationautoscaling.CfnScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: 'ecs',
      resourceId: Fn.sub('service/${Cluster}/${Service.Name}'),
      scalableDimension: 'ecs:service:DesiredCount',
      minCapacity: p.DesiredCount.valueAsNumber,
      maxCapacity: p.MaxCount.valueAsNumber,
    });
    const scaling = (id: string, suffix: string, target: string, metric: applicationautoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty) =>
      new applicationautoscaling.CfnScalingPolicy(this, id, {
        policyName: Fn.sub(`\${Name}-${suffix}`),
        policyType: 'TargetTrackingScaling',
        scalingTargetId: scalableTarget.ref,
        targetTrackingScalingPolicyConfiguration: {
          targetValue: p[target].valueAsNumber,
          scaleInCooldown: 300,
          scaleOutCooldown: 60,
          predefinedMetricSpecification: metric,
        },
      });
    scaling('CpuScaling', 'cpu', 'CpuTargetPercent', { predefinedMetricType: 'ECSServiceAverageCPUUtilization' });
    scaling('RequestScaling', 'requests', 'RequestsPerTarget', {
      predefinedMetricType: 'ALBRequestCountPerTarget',
      resourceLabel: Fn.join('/', [listenerPart(1), listenerPart(2), listenerPart(3), targetGroup.attrTargetGroupFullName]),
    });

    // --- alarms (docs/OPERATIONS.md has a response for each) and the dashboard ---------------------
    const actions = Token.asList(Fn.conditionIf('HasAlarmTopic', [ref('AlarmTopicArn')], Aws.NO_VALUE));
    const tgDimensions = [
      { name: 'LoadBalancer', value: loadBalancer },
      { name: 'TargetGroup', value: targetGroup.attrTargetGroupFullName },
    ];
    const alarm = (id: string, props: Partial<cloudwatch.CfnAlarmProps> & Pick<cloudwatch.CfnAlarmProps, 'comparisonOperator' | 'evaluationPeriods'>) =>
      new cloudwatch.CfnAlarm(this, id, { ...props, alarmActions: actions, okActions: actions });
    alarm('Target5xxAlarm', {
      alarmName: Fn.sub('${Name}-target-5xx'),
      alarmDescription: 'quilt-mcp-server answered 5xx (OPERATIONS.md: Alarm target-5xx)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HTTPCode_Target_5XX_Count',
      dimensions: tgDimensions,
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 10,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
    });
    alarm('UnhealthyHostsAlarm', {
      alarmName: Fn.sub('${Name}-unhealthy-hosts'),
      alarmDescription: 'A quilt-mcp-server task fails its /healthz check (OPERATIONS.md: Alarm unhealthy-hosts)',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: tgDimensions,
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'breaching',
    });
    alarm('AuthFailuresAlarm', {
      alarmName: Fn.sub('${Name}-auth-failures'),
      alarmDescription: 'Many refused bearer tokens (OPERATIONS.md: Alarm auth-failures)',
      namespace,
      metricName: 'AuthFailures',
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: p.AuthFailureThreshold.valueAsNumber,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
    });
    alarm('RoleAssumptionFailuresAlarm', {
      alarmName: Fn.sub('${Name}-role-assumption-failures'),
      alarmDescription: 'The server cannot assume a configured stack role (OPERATIONS.md: Alarm role-assumption-failures)',
      namespace,
      metricName: 'RoleAssumptionFailures',
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
    });
    // A percentage of two EMF metrics (no dimensions: the whole service), as alarm metric math.
    const rate = (label: string, part: string, whole: string, expression: string): cloudwatch.CfnAlarm.MetricDataQueryProperty[] => [
      { id: 'm0', returnData: false, metricStat: { metric: { namespace, metricName: part }, period: 300, stat: 'Sum' } },
      { id: 'm1', returnData: false, metricStat: { metric: { namespace, metricName: whole }, period: 300, stat: 'Sum' } },
      { id: 'rate', label, returnData: true, expression },
    ];
    alarm('AuthErrorRateAlarm', {
      alarmName: Fn.sub('${Name}-auth-error-rate'),
      alarmDescription: 'More than AuthErrorRatePercent % of tokens refused (OPERATIONS.md: Alarm auth-error-rate)',
      metrics: rate('refused tokens, % of authentications', 'AuthFailure', 'AuthSuccess', '100 * m0 / (m0 + m1)'),
      evaluationPeriods: 1,
      threshold: p.AuthErrorRatePercent.valueAsNumber,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    });
    alarm('ToolErrorRateAlarm', {
      alarmName: Fn.sub('${Name}-tool-error-rate'),
      alarmDescription: 'More than ToolErrorRatePercent % of tool calls failed (OPERATIONS.md: Alarm tool-error-rate)',
      metrics: rate('failed tool calls, % of calls', 'ToolErrors', 'ToolCalls', '100 * m0 / m1'),
      evaluationPeriods: 1,
      threshold: p.ToolErrorRatePercent.valueAsNumber,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    });
    new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: ref('Name'),
      dashboardBody: dashboardBody(loadBalancer, targetGroup.attrTargetGroupFullName),
    });

    new CfnOutput(this, 'ClusterName', { value: cluster.ref });
    new CfnOutput(this, 'ServiceName', { value: service.attrName });
    new CfnOutput(this, 'TaskRoleArn', {
      description: "Trust this role (with sts:SourceIdentity required) in the read/write roles' trust policies.",
      value: taskRole.attrArn,
    });
    new CfnOutput(this, 'ExecutionRoleArn', { value: executionRole.attrArn });
    new CfnOutput(this, 'TargetGroupArn', { value: targetGroup.ref });
    new CfnOutput(this, 'SecurityGroupId', { value: taskSg.ref });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.ref });
    new CfnOutput(this, 'DashboardName', { value: ref('Name') });
  }
}
