export { openDatabase, dialectOf, redactUrl, DatabaseError } from "./database.js";
export type {
  DatabaseConfig,
  DatabaseDialect,
  DatabaseLogger,
  OpenDatabaseOptions,
} from "./database.js";
export { migrate, migrations, appliedMigrations, MIGRATIONS_TABLE } from "./migrations/index.js";
export type { Migration } from "./migrations/index.js";
