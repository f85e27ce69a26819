// Runs one SQL statement in an in-memory DuckDB and prints the rows as JSON lines.
// Usage: node tools/duckdb/query.mjs "SELECT count(*) AS n FROM read_parquet('x/*.parquet')"
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: node query.mjs "<sql>"');
  process.exit(2);
}
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
try {
  const reader = await conn.runAndReadAll(sql);
  for (const row of reader.getRowObjectsJson()) {
    console.log(JSON.stringify(row));
  }
} catch (err) {
  console.error(`duckdb: ${err.message}`);
  process.exit(1);
}
