// The server settings without a rule of their own, as in the CloudFormation template's tunables
// block and Terraform's `settings` input. Each becomes a parameter named after the environment
// variable in PascalCase (MCP_MAX_IN_FLIGHT → McpMaxInFlight), a Has… condition, and an
// Environment entry left out when empty (the server's default applies).
//
// Adding a server setting to the CDK flavour is one line here; tests/deploy/test_settings.py
// reads `quilt-mcp-server serve --help` and fails while any flavour lacks one.

export interface Tunable {
  readonly env: string;
  readonly pattern: string;
  readonly constraint: string;
}

const NUMBER = { pattern: '^[0-9]*$', constraint: 'empty or a whole number' };
const LIST = { pattern: '^[^\\s]*$', constraint: 'a list without whitespace' };

export const TUNABLES: readonly Tunable[] = [
  { env: 'MCP_ALLOWED_HOSTS', ...LIST },
  { env: 'MCP_ALLOWED_ORIGINS', ...LIST },
  { env: 'MCP_MAX_BODY_BYTES', ...NUMBER },
  { env: 'MCP_REQUEST_TIMEOUT_S', ...NUMBER },
  { env: 'MCP_MAX_IN_FLIGHT', ...NUMBER },
  { env: 'MCP_JWT_JWKS_REFETCH_S', ...NUMBER },
  { env: 'MCP_JWT_LEEWAY_S', ...NUMBER },
  { env: 'MCP_ROLE_SESSION_DURATION_S', ...NUMBER },
  { env: 'MCP_ROLE_CHECK_INTERVAL_S', ...NUMBER },
  { env: 'S3_MULTIPART_THRESHOLD_BYTES', ...NUMBER },
  { env: 'MCP_PERMISSION_CACHE_TTL_S', ...NUMBER },
  { env: 'MCP_PERMISSION_MAX_BUCKETS', ...NUMBER },
  { env: 'MCP_PERMISSION_CONCURRENCY', ...NUMBER },
  { env: 'MCP_HEALTHZ_STRICT', pattern: '^(|true|false)$', constraint: 'empty, true or false' },
  { env: 'MCP_MAX_AUTHENTICATING', ...NUMBER },
  { env: 'MCP_CALLER_MAX_IN_FLIGHT', ...NUMBER },
  { env: 'MCP_CALLER_RATE_PER_S', ...NUMBER },
  { env: 'MCP_CALLER_BURST', ...NUMBER },
  { env: 'QUILT_CATALOG_TIMEOUT_S', ...NUMBER },
  { env: 'ATHENA_OUTSIDE_BUCKET_GRANTS', pattern: '^(|true|false)$', constraint: 'empty, true or false' },
  { env: 'MCP_TASK_HEARTBEAT_S', ...NUMBER },
];

/** MCP_MAX_IN_FLIGHT → McpMaxInFlight. */
export function parameterName(env: string): string {
  return env
    .toLowerCase()
    .split('_')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}
