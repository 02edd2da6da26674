#!/usr/bin/env node
// A committed launcher, so package managers can link the command before the package is built.
import "../dist/cli.js";
