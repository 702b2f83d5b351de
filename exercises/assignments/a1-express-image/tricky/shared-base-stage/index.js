const express = require("express");

const app = express();
const port = 3000;

app.get("/", function (req, res) {
  res.set("Cache-Control", "no-store");
  res.send({ "message": "Hello from Docker!" });
});

app.listen(port, "0.0.0.0", function () {
  console.log("Server running on port " + port);
});
