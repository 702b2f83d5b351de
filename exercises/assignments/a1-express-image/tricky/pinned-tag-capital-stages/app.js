// A1 reference: an Express app that answers GET / with one JSON object on port 3000.
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const app = express();

app.get('/', (req, res) => {
  res.json({ message: 'Hello from Docker!' });
});

// 0.0.0.0: every interface of the container, so the published port reaches the app.
const server = app.listen(PORT, '0.0.0.0', () => {
  console.log(`listening on 0.0.0.0:${PORT}`);
});

// `docker stop` sends SIGTERM; node running as PID 1 would ignore it and be killed 10 s later.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
