// Required variables of a root module, read before Terraform runs: what the module needs, what the run provides.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingVariables, requiredVariables, tfvarsNames } from '../../../src/adapters/terraform-vars.ts';

describe('terraform variables check', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-tfvars-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds variables without a default, whatever strings, comments, heredocs and nested blocks hold', () => {
    const hcl = `
variable "region" {
  type        = string
  description = "no default = here { }"
}
variable "zones" {
  type    = list(string)
  default = ["a"] # default = commented
}
# variable "commented" {}
variable "conn" {
  validation {
    condition     = length(var.conn) > 0
    error_message = <<-EOT
      default = "in a heredoc"
    EOT
  }
}
variable "nothing" {}
variable "nullable_default" {
  default = null
}
/* variable "block_comment" {} */
variable "templated" {
  description = "\${join(",", ["}"])}"
  default     = 1
}
`;
    assert.deepEqual(requiredVariables(hcl), ['region', 'conn', 'nothing']);
  });

  it('reads the names a tfvars file sets, top level only', () => {
    const file = join(dir, 'team.tfvars');
    writeFileSync(file, 'region = "eu-west-1"\ntags = {\n  owner = "payments"\n}\n# zones = []\n');
    assert.deepEqual(tfvarsNames(file), ['region', 'tags']);
    const json = join(dir, 'team.tfvars.json');
    writeFileSync(json, JSON.stringify({ region: 'x', size: 2 }));
    assert.deepEqual(tfvarsNames(json), ['region', 'size']);
  });

  it('counts values from vars, var files, terraform.tfvars, *.auto.tfvars, .tf.json and TF_VAR_ as provided', () => {
    writeFileSync(
      join(dir, 'main.tf'),
      'variable "a" {}\nvariable "b" {}\nvariable "c" {}\nvariable "d" {}\nvariable "e" {}\nvariable "f" {}\n',
    );
    writeFileSync(join(dir, 'more.tf.json'), JSON.stringify({ variable: { g: {}, h: { default: 1 } } }));
    writeFileSync(join(dir, 'terraform.tfvars'), 'b = 1\n');
    writeFileSync(join(dir, 'x.auto.tfvars'), 'c = 1\n');
    const team = join(dir, 'team.tfvars');
    writeFileSync(team, 'd = 1\n');

    const missing = missingVariables(dir, { names: ['a'], varFiles: [team], env: { TF_VAR_e: 'x' } });

    assert.deepEqual(missing, ['f', 'g']);
  });
});
