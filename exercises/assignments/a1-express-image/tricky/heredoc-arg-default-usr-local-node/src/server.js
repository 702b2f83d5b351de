// Express 5; listen() without a host takes every interface (:: and 0.0.0.0).
const express = require('express');

const app = express();
app.get('/', (_req, res) => res.status(200).json({ message: 'Hello from Docker!' }));
app.listen(process.env.PORT ?? 3000, () => console.log('ready'));
