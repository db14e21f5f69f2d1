//! The `provider "fleetform" {}` block: it takes no arguments, and may be left out.

use fleetform_sdk::Block;

/// The schema of the `provider "fleetform" {}` block: empty.
pub fn schema() -> Block {
    Block::new().describe("The built-in provider; it has no settings.")
}
