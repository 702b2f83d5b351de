// A1 reference: an Express app that answers GET / with one JSON object on port 3000.
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const app = express();

app.get('/', (req, res) => {
  res.json({ message: 'Hello from Docker!' });
});

// Mistake: 127.0.0.1 is the container's own loopback; the published port cannot reach it.
const server = app.listen(PORT, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${PORT}`);
});

// `docker stop` sends SIGTERM; node running as PID 1 would ignore it and be killed 10 s later.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
