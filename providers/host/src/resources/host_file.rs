//! The `host_file` resource: a file converged on a host, from inline content or a local
//! file. Like Terraform's local_file / local_sensitive_file, secret content goes in
//! `sensitive_content` so plans never show it.

use fleetform_sdk::{Attribute, Block, Schema, Type};

/// The schema of `resource "host_file"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe(
                "A file on a host. Set exactly one of `content`, `sensitive_content` or `source`.",
            )
            .attr(
                "host",
                Attribute::required(Type::String).force_new().describe(
                    "The host the file lives on: a `host` resource's id, e.g. host.node1.id.",
                ),
            )
            .attr(
                "path",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("Absolute path of the file on the host."),
            )
            .attr(
                "content",
                Attribute::optional(Type::String).describe("The file's content, shown in plans."),
            )
            .attr(
                "sensitive_content",
                Attribute::optional(Type::String).sensitive().describe(
                    "The file's content when it is secret; never shown in plans or logs.",
                ),
            )
            .attr(
                "source",
                Attribute::optional(Type::String)
                    .describe("Path of a local file to upload, relative to the working directory."),
            )
            .attr(
                "mode",
                Attribute::optional_computed(Type::String).describe(
                    "Permissions in octal, as a string, e.g. \"0600\" (default \"0644\").",
                ),
            )
            .attr(
                "owner",
                Attribute::optional_computed(Type::String)
                    .describe("Owning user name; defaults to the login user."),
            )
            .attr(
                "group",
                Attribute::optional_computed(Type::String)
                    .describe("Owning group name; defaults to the login user's primary group."),
            )
            .attr(
                "sha256",
                Attribute::computed(Type::String).describe(
                    "Hex SHA-256 of the content on the host; drift shows up as a change.",
                ),
            )
            .attr(
                "id",
                Attribute::computed(Type::String)
                    .describe("Identifier in state: the host id and path."),
            ),
    )
}
