// Run with `npx cdk synth` (tests/deploy/run.sh does, offline): the reference stack
// QuiltMcpServer (the CloudFormation template's parameters and defaults) and the example
// QuiltMcpServerBesideQuilt (the same stack with the "beside a Quilt stack" defaults of
// deploy/examples/beside-quilt.json). Both are environment-agnostic: no account or region is
// looked up at synth time.

import { readFileSync } from 'node:fs';

import { App, DefaultStackSynthesizer } from 'aws-cdk-lib';

import { McpServerStack } from '../lib/mcp-server-stack.ts';

const app = new App();
// No bootstrap-version parameter or rule: the template's parameters stay the reviewed ones.
const synthesizer = () => new DefaultStackSynthesizer({ generateBootstrapVersionRule: false });

new McpServerStack(app, 'QuiltMcpServer', { synthesizer: synthesizer(), analyticsReporting: false });

const example = JSON.parse(readFileSync(new URL('../../examples/beside-quilt.json', import.meta.url), 'utf8')) as {
  Parameters: Record<string, string>;
};
new McpServerStack(app, 'QuiltMcpServerBesideQuilt', {
  synthesizer: synthesizer(),
  analyticsReporting: false,
  defaults: example.Parameters,
});
