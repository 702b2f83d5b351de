// Broken on purpose: items are kept in an array in the instance's memory; PostgreSQL is only
// connected to. Expected: loses only "items-stored".
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

// Items live in this array, in each instance's memory, not in PostgreSQL.
const items = [];
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
  const item = { id: items.length + 1, name };
  items.push(item);
  res.status(201).json(item);
});

app.get("/api/items", async (req, res) => {
  res.json(items.slice(-100).reverse());
});

// PostgreSQL may still be starting when this container starts: try again for up to a minute.
async function waitForDatabase() {
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query("CREATE TABLE IF NOT EXISTS items (id SERIAL PRIMARY KEY, name TEXT NOT NULL)");
      return;
    } catch (err) {
      if (attempt >= 60) throw err;
      console.log(`database not ready (${err.message}); retrying in 1 s`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
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
