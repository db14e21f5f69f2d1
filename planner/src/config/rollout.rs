//! `rollout "NAME" {}`: the order in which a change reaches the fleet's sites. Sites are
//! module instances, named by reference as `depends_on` names things (`module.clinic`
//! for every instance of a call, `module.clinic["north"]` for one). Stages run in the order
//! written; each stage's sites that have changes go in batches; after each batch the health
//! gates must pass before the next starts, then the stage soaks. More sites failing than
//! the failure budget halts the rollout, and sites it had not reached stay as they were.

use std::time::Duration;

use fleetform_sdk::{Type, Value, parse_duration};
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Attribute, Block};

use super::Loc;
use super::decode::{Decoder, span_of, valid_name};
use crate::addrs::parse::module_instance_from_expr;
use crate::addrs::{InstanceKey, ModuleInstance};

/// How long the gates of a batch may take to pass, unless `gate_timeout` says otherwise.
pub const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(300);

/// A `rollout` block (root module only).
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Its label.
    pub name: String,
    /// Its stages, in order.
    pub stages: Vec<Stage>,
    /// How many sites may fail before the rollout halts (0: the first failure halts it).
    pub failure_budget: u64,
    /// What must hold on a batch's sites before the next batch starts: names of the health
    /// gates resources report (`api_ready`, `nodes_ready`, `addons_ready`, `arc_connected`).
    pub health_gates: Vec<(String, Loc)>,
    /// How long a batch's gates may take to pass.
    pub gate_timeout: Duration,
    /// Sites the rollout leaves alone: their changes wait for a later apply.
    pub skip: Vec<SiteSelector>,
    /// The block's labels.
    pub loc: Loc,
}

/// A `stage "NAME" {}` block of a rollout.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its label.
    pub name: String,
    /// The sites it covers (those not already in an earlier stage).
    pub sites: Vec<SiteSelector>,
    /// How many of its sites with changes go in each batch.
    pub batch_size: BatchSize,
    /// At most this many sites of a batch change at once.
    pub max_parallel: Option<u64>,
    /// How long to wait after the stage's last batch passed its gates, before the next
    /// stage starts.
    pub soak: Duration,
    /// The block's labels.
    pub loc: Loc,
}

/// `batch_size = 2` or `batch_size = "25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchSize {
    /// The whole stage at once.
    All,
    /// This many sites.
    Count(u64),
    /// This share of the stage's sites with changes, rounded up.
    Percent(u64),
}

impl BatchSize {
    /// The number of sites per batch for a stage with `sites` sites to change (at least 1).
    pub fn of(self, sites: usize) -> usize {
        let n = match self {
            BatchSize::All => sites,
            BatchSize::Count(n) => n as usize,
            BatchSize::Percent(p) => (sites * p as usize).div_ceil(100),
        };
        n.max(1)
    }
}

/// A reference to sites: `module.clinic` (every instance of the call) or
/// `module.clinic["north"]` (one).
#[derive(Debug, Clone)]
pub struct SiteSelector {
    /// The module instance; a step without a key matches every key of its call.
    pub module: ModuleInstance,
    /// Where it is written.
    pub loc: Loc,
}

impl SiteSelector {
    /// True when `site` is one of the instances this names.
    pub fn matches(&self, site: &ModuleInstance) -> bool {
        self.module.0.len() == site.0.len()
            && self.module.0.iter().zip(&site.0).all(|(want, have)| {
                want.name == have.name && (want.key == InstanceKey::None || want.key == have.key)
            })
    }
}

impl Decoder<'_> {
    /// Reads a `rollout "NAME" {}` block.
    pub fn rollout(&mut self, block: &Block) -> Option<Rollout> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        if !valid_name(name) {
            self.error(
                name_loc.span.clone(),
                "Invalid rollout name",
                format!("{name:?} is not a valid name: a name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes."),
            );
        }
        let mut c = self.content(
            &block.body,
            "in a rollout block",
            &["failure_budget", "health_gates", "gate_timeout", "skip"],
            &["stage"],
        );
        let failure_budget = c
            .take("failure_budget")
            .and_then(|a| self.whole_number(a, 0))
            .unwrap_or(0);
        let health_gates = c
            .take("health_gates")
            .map(|a| self.gate_names(a))
            .unwrap_or_default();
        let gate_timeout = c
            .take("gate_timeout")
            .and_then(|a| self.duration(a))
            .unwrap_or(DEFAULT_GATE_TIMEOUT);
        let skip = c.take("skip").map(|a| self.sites(a)).unwrap_or_default();
        let mut stages: Vec<Stage> = Vec::new();
        for b in &c.blocks {
            let Some(stage) = self.stage(b) else { continue };
            if let Some(previous) = stages.iter().find(|s| s.name == stage.name) {
                let prev = self.sources.range(&previous.loc);
                self.error(
                    stage.loc.span.clone(),
                    "Duplicate stage",
                    format!(
                        "A stage named {:?} was already declared at {prev}. Stage names must be unique within a rollout.",
                        stage.name
                    ),
                );
                continue;
            }
            stages.push(stage);
        }
        let loc = self.loc(span_of(&block.ident).start..name_loc.span.end);
        if stages.is_empty() {
            self.error(
                loc.span.clone(),
                "Missing stage",
                "A rollout needs at least one stage block, such as stage \"canary\" { sites = [module.clinic[\"north\"]] }.".into(),
            );
        }
        Some(Rollout {
            name: name.to_owned(),
            stages,
            failure_budget,
            health_gates,
            gate_timeout,
            skip,
            loc,
        })
    }

    fn stage(&mut self, block: &Block) -> Option<Stage> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        let mut c = self.content(
            &block.body,
            "in a stage block",
            &["sites", "batch_size", "max_parallel", "soak"],
            &[],
        );
        let loc = self.loc(span_of(&block.ident).start..name_loc.span.end);
        let sites = match c.take("sites") {
            Some(a) => self.sites(a),
            None => {
                self.error(
                    loc.span.clone(),
                    "Missing required argument",
                    "The argument \"sites\" is required, but no definition was found.".into(),
                );
                Vec::new()
            }
        };
        let batch_size = c
            .take("batch_size")
            .and_then(|a| self.batch_size(a))
            .unwrap_or(BatchSize::All);
        let max_parallel = c.take("max_parallel").and_then(|a| self.whole_number(a, 1));
        let soak = c
            .take("soak")
            .and_then(|a| self.duration(a))
            .unwrap_or(Duration::ZERO);
        Some(Stage {
            name: name.to_owned(),
            sites,
            batch_size,
            max_parallel,
            soak,
            loc,
        })
    }

    /// `[module.clinic, module.datacenter]`: references to module calls or instances.
    fn sites(&mut self, attr: &Attribute) -> Vec<SiteSelector> {
        let Expression::Array(items) = &attr.value else {
            self.error(
                span_of(&attr.value),
                "Invalid expression",
                format!(
                    "The argument {:?} must be a list of module references, such as [module.clinic, module.datacenter].",
                    attr.key.as_str()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match module_instance_from_expr(item) {
                Ok(module) => out.push(SiteSelector {
                    module,
                    loc: self.loc(span_of(item)),
                }),
                Err(_) => self.error(
                    span_of(item),
                    "Invalid site reference",
                    "A site is a module call or one of its instances, written as a reference: module.clinic or module.clinic[\"north\"].".into(),
                ),
            }
        }
        out
    }

    fn gate_names(&mut self, attr: &Attribute) -> Vec<(String, Loc)> {
        let Some(value) = self.constant(attr) else {
            return Vec::new();
        };
        match Type::List(Box::new(Type::String)).convert(&value) {
            Ok(Value::List(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .map(|name| (name, self.loc(span_of(&attr.value))))
                .collect(),
            _ => {
                self.error(
                    span_of(&attr.value),
                    "Invalid value",
                    "health_gates must be a list of gate names, such as [\"api_ready\", \"nodes_ready\"].".into(),
                );
                Vec::new()
            }
        }
    }

    fn whole_number(&mut self, attr: &Attribute, least: u64) -> Option<u64> {
        let value = self.constant(attr)?;
        match value.as_number().and_then(|n| n.as_u64()) {
            Some(n) if n >= least => Some(n),
            _ => {
                self.error(
                    span_of(&attr.value),
                    "Invalid value",
                    format!(
                        "{} must be a whole number of at least {least}.",
                        attr.key.as_str()
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, attr: &Attribute) -> Option<Duration> {
        let text = self.constant_string(attr)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span_of(&attr.value), "Invalid duration", format!("{e}."));
                None
            }
        }
    }

    fn batch_size(&mut self, attr: &Attribute) -> Option<BatchSize> {
        let value = self.constant(attr)?;
        let parsed = match &value {
            Value::String(s) => s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<u64>().ok())
                .filter(|p| (1..=100).contains(p))
                .map(BatchSize::Percent),
            other => other
                .as_number()
                .and_then(|n| n.as_u64())
                .filter(|n| *n >= 1)
                .map(BatchSize::Count),
        };
        if parsed.is_none() {
            self.error(
                span_of(&attr.value),
                "Invalid value",
                "batch_size must be a number of sites (at least 1) or a percentage of the stage's sites, such as \"25%\".".into(),
            );
        }
        parsed
    }
}
