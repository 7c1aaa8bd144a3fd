// Verdicts of the real zod (v3 API and v4 API) on VibeLog's env schema, for the Python conformance test.
// stdin: JSON array of env objects. stdout: JSON array of {"v3": [bad keys], "v4": [bad keys]}.
// The schema body below is copied verbatim from the reference's "Environment Variables" section.
// Install its pinned zod with: npm ci --prefix tests/zod (node_modules is not committed).
import { z as z4 } from "zod";
import { z as z3 } from "zod/v3";

function envSchema(z) {
  return z.object({
    // Application
    NODE_ENV: z.enum(['development', 'staging', 'production']),
    NEXT_PUBLIC_APP_URL: z.string().url(),

    // Database
    DATABASE_URL: z.string().url(),
    DIRECT_URL: z.string().url(),

    // Authentication
    NEXTAUTH_SECRET: z.string().min(32),
    NEXTAUTH_URL: z.string().url(),

    // AI Services
    OPENAI_API_KEY: z.string().startsWith('sk-'),
    ANTHROPIC_API_KEY: z.string().optional(),

    // Storage
    SUPABASE_URL: z.string().url(),
    SUPABASE_ANON_KEY: z.string(),
    SUPABASE_SERVICE_ROLE_KEY: z.string(),

    // Monitoring
    SENTRY_DSN: z.string().url().optional(),
    POSTHOG_KEY: z.string().optional(),

    // External Services
    RESEND_API_KEY: z.string().optional(),
    STRIPE_SECRET_KEY: z.string().optional(),
  })
}

const schemas = { v3: envSchema(z3), v4: envSchema(z4) };

function badKeys(schema, env) {
  const result = schema.safeParse(env);
  if (result.success) return [];
  return [...new Set(result.error.issues.map((issue) => String(issue.path[0])))].sort();
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const envs = JSON.parse(input);
const verdicts = envs.map((env) => ({ v3: badKeys(schemas.v3, env), v4: badKeys(schemas.v4, env) }));
process.stdout.write(JSON.stringify(verdicts));
