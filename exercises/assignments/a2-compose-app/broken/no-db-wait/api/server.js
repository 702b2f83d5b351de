// Broken on purpose (with compose.yaml): no retry when PostgreSQL is not ready yet.
const os = require("os");
const express = require("express");
const session = require("express-session");
const RedisStore = require("connect-redis").default;
const { createClient } = require("redis");
const { Pool } = require("pg");

const PORT = Number(process.env.PORT || 3000);
const instance = os.hostname();

// pg reads PGHOST, PGUSER, PGPASSWORD and PGDATABASE from the environment.
const pool = new Pool();
const redisClient = createClient({ url: process.env.REDIS_URL || "redis://redis:6379" });
redisClient.on("error", (err) => console.error("redis:", err.message));

const app = express();
app.use(express.json());
app.use(
  session({
    store: new RedisStore({ client: redisClient }),
    secret: process.env.SESSION_SECRET || "change-me",
    resave: false,
    saveUninitialized: false,
  })
);

app.get("/api/instance", (req, res) => {
  res.json({ instance });
});

app.get("/api/visits", (req, res) => {
  req.session.visits = (req.session.visits || 0) + 1;
  res.json({ visits: req.session.visits, instance });
});

app.post("/api/items", async (req, res) => {
  const name = req.body && req.body.name;
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    return res.status(400).json({ error: "name must be a string of 1 to 200 characters" });
  }
  try {
    const { rows } = await pool.query("INSERT INTO items (name) VALUES ($1) RETURNING id, name", [name]);
    res.status(201).json(rows[0]);
  } catch (err) {
    console.error(err);
    res.status(500).json({ error: "database error" });
  }
});

app.get("/api/items", async (req, res) => {
  try {
    const { rows } = await pool.query("SELECT id, name FROM items ORDER BY id DESC LIMIT 100");
    res.json(rows);
  } catch (err) {
    console.error(err);
    res.status(500).json({ error: "database error" });
  }
});

// Creates the table once; if PostgreSQL is not accepting connections yet, this throws and the
// process exits (the mistake this variant is about). Both instances start at the same moment:
// two CREATE TABLE IF NOT EXISTS at once can both find no table, and then one fails on
// PostgreSQL's catalog ("duplicate key value violates unique constraint
// pg_type_typname_nsp_index") and that instance is gone from the first start on. An advisory
// lock runs them in turn, so that only a late database can stop this API.
async function waitForDatabase() {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(4242)");
    await client.query("CREATE TABLE IF NOT EXISTS items (id SERIAL PRIMARY KEY, name TEXT NOT NULL)");
    await client.query("SELECT pg_advisory_unlock(4242)");
  } finally {
    client.release();
  }
}

async function main() {
  await redisClient.connect();
  await waitForDatabase();
  const server = app.listen(PORT, () => console.log(`${instance} listening on ${PORT}`));
  // docker stop sends SIGTERM; node as PID 1 would ignore it without a handler.
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
