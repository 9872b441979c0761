import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { API_ROLE, LEDGER_ROLE, type Database, type OwnerSession } from '../commons/db/database.ts';

/**
 * The role the API's Lambdas log in as. It may do nothing on its own (NOINHERIT): every transaction
 * switches to loglineos_api (callers, under row-level security) or loglineos_ledger (reads for
 * verification and proofs) with set_config('role', …, true), which needs exactly these memberships.
 * Beside them it may read the migration list (to find nothing pending) and read and add the wrapped
 * tenant keys of memory (functions/memory/keys.ts), which no caller's role may see.
 */
export const APP_ROLE_MEMBERSHIPS = [API_ROLE, LEDGER_ROLE] as const;

export interface AppRoleLogin {
  readonly username: string;
  readonly password: string;
}

export interface AppRoleReport {
  readonly role: string;
  /** True when this run created the role; false when it existed and only its password and grants were set. */
  readonly created: boolean;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** What Secrets Manager generates, with nothing SASLprep would change (so the SCRAM verifier below is PostgreSQL's). */
const PASSWORD = /^[\x21-\x7e]{16,1024}$/;

/**
 * Creates the app's login role, or brings an existing one back to the layout, as the migrating role
 * (on RDS the master user), then checks the result: a plain login role, only a member of the two
 * roles above, owning nothing. Sets its password to the secret's on every run, so a deploy also
 * repairs a role whose password drifted from its secret. Idempotent.
 */
export async function ensureAppRole(db: Database, login: AppRoleLogin): Promise<AppRoleReport> {
  const role = login.username;
  if (!ROLE_NAME.test(role)) {
    throw new Error(`the app role's username must be a lower-case PostgreSQL name matching ${ROLE_NAME}, got ${JSON.stringify(role)}; fix the username in its secret`);
  }
  if (!PASSWORD.test(login.password)) {
    throw new Error(`the password of ${role} must be 16 to 1024 printable ASCII characters without spaces, got ${login.password.length} characters; regenerate its secret`);
  }
  return db.withOwner(async (tx) => {
    const [me] = await tx.query<{ name: string }>('select current_user as name');
    if (me?.name === role) throw new Error(`the app role ${role} is the migrating role itself; the API must never log in as the master user: give its secret another username`);
    const [existing] = await tx.query<{ oid: number }>('select oid from pg_roles where rolname = $1', [role]);
    // Only a verifier travels: the password never appears in a statement the server could log.
    const verifier = scramVerifier(login.password);
    // The defaults are NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; naming them
    // would need superuser on RDS, so the check below enforces them instead.
    await execFormatted(tx, existing ? 'alter role %I with login noinherit password %L' : 'create role %I with login noinherit password %L', [role, verifier]);
    await execFormatted(tx, `grant ${APP_ROLE_MEMBERSHIPS.map(() => '%I').join(', ')} to %I`, [...APP_ROLE_MEMBERSHIPS, role]);
    await execFormatted(tx, 'grant usage on schema ledger to %I', [role]);
    await execFormatted(tx, 'grant select on public.loglineos_migrations to %I', [role]);
    await execFormatted(tx, 'grant select, insert on ledger.memory_keys to %I', [role]);
    await checkAppRole(tx, role);
    return { role, created: !existing };
  });
}

/** A PostgreSQL statement built by the server's format() (%I identifiers, %L literals), never by string concatenation. */
async function execFormatted(tx: OwnerSession, template: string, args: readonly string[]): Promise<void> {
  const placeholders = args.map((_, index) => `$${index + 2}::text`).join(', ');
  const [row] = await tx.query<{ statement: string }>(`select format($1, ${placeholders}) as statement`, [template, ...args]);
  if (!row) throw new Error(`format() returned nothing for ${template}`);
  await tx.exec(row.statement);
}

/** Refuses a role that could do more than its memberships allow, whoever changed it. */
async function checkAppRole(tx: OwnerSession, role: string): Promise<void> {
  const [attributes] = await tx.query<Record<string, boolean>>(
    `select rolsuper as superuser, rolcreaterole as createrole, rolcreatedb as createdb, rolreplication as replication,
            rolbypassrls as bypassrls, rolinherit as inherit, not rolcanlogin as nologin
       from pg_roles where rolname = $1`,
    [role],
  );
  const wrong = Object.entries(attributes ?? {}).filter(([, value]) => value).map(([name]) => name.toUpperCase());
  if (wrong.length > 0) {
    const fix = wrong.map((name) => (name === 'NOLOGIN' ? 'LOGIN' : `NO${name}`)).join(' ');
    throw new Error(`the app role ${role} has ${wrong.join(', ')}; it must be a plain login role: ALTER ROLE ${role} ${fix} (as a superuser), or drop it and deploy again`);
  }
  const memberships = await tx.query<{ name: string }>(
    'select g.rolname as name from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member where r.rolname = $1 order by 1',
    [role],
  );
  const extra = memberships.map((row) => row.name).filter((name) => !(APP_ROLE_MEMBERSHIPS as readonly string[]).includes(name));
  if (extra.length > 0) throw new Error(`the app role ${role} is also a member of ${extra.join(', ')}; it may only be a member of ${APP_ROLE_MEMBERSHIPS.join(' and ')}: REVOKE ${extra.join(', ')} FROM ${role}`);
  const [owned] = await tx.query<{ n: number }>(
    `select (select count(*) from pg_class where relowner = r.oid) + (select count(*) from pg_proc where proowner = r.oid)
          + (select count(*) from pg_namespace where nspowner = r.oid) as n
       from pg_roles r where r.rolname = $1`,
    [role],
  );
  if (Number(owned?.n) > 0) throw new Error(`the app role ${role} owns ${Number(owned?.n)} objects in this database; an owner may alter or drop them: REASSIGN OWNED BY ${role} TO the migrating role`);
}

/**
 * PostgreSQL's SCRAM-SHA-256 verifier of a password (RFC 5802/7677, as `ALTER ROLE … PASSWORD` stores
 * it): the server keeps this, and a role with this verifier logs in with the password itself.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
