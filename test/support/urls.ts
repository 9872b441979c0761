/** The same server as `url`, another database. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The database named in DATABASE_URL, used only to create and drop the test databases. */
export const adminUrl = (url: string) => url;
