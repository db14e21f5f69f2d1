# Locals the corpus's expressions may refer to (templatestring takes only references).
# generate.py copies this file beside the outputs; golden_language.rs reads it too.
locals {
  tpl     = "Hello $${name}"
  tpl_sum = "$${a + b}"
  tpl_for = "%%{for x in xs}$${x},%%{endfor}"
}
