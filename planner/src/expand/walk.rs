//! The walk: evaluation as a dataflow over units of work, so that every resource instance
//! starts as soon as what it refers to is done, not when everything before it in the
//! configuration is.
//!
//! A module instance becomes one unit per variable, local, output, provider block and
//! module call, and two per resource block: `Expand` (its `count`/`for_each`, which makes
//! one `Instance` unit per key) and `Gather` (done when every instance is). A unit waits
//! for the units its expressions refer to, resolved from the configuration-level
//! dependencies ([`super::Order`]) in its own module instance, its parent (a module's
//! inputs) or its children (their outputs, known once the call has expanded).
//!
//! A reference to one instance whose key each instance can compute from its own
//! `each`/`count` (`host.node[each.key]`, `host.node[count.index]`) waits for that instance
//! only; any other reference to a resource waits for all of it. So one site's slow or
//! unreachable host holds back that site's own work and nothing else.
//!
//! Units that only evaluate run inline; instances go to the [`Hook`] (validate, plan or
//! apply), whose futures run concurrently up to the walk's parallelism. A failed instance
//! marks everything that depends on it, so apply skips those and only those.

use std::collections::{HashMap, HashSet, VecDeque};

use fleetform_sdk::{Diagnostics, Schema, Value};
use futures::FutureExt;
use futures::future::LocalBoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use hcl::edit::expr::Expression;

use super::hook::{Hook, InstanceRequest, Outcome};
use super::repeat::Mode;
use super::resource::ExpandedResource;
use super::scope::Repetition;
use super::{ConfigNode, Expansion, Item, Order, ProviderConfigAddr, ResourceInstance};
use crate::addrs::{
    AbsResource, AbsResourceInstance, InstanceKey, ModuleInstance, ModulePath, Resource,
};
use crate::lang::references;

type UnitId = usize;
type NodeId = usize;
type ModuleId = usize;

/// How a walk runs its instances.
pub struct WalkOptions<'r> {
    /// Instances whose hook calls run at once; 0 means no bound.
    pub parallelism: usize,
    /// Where hook futures run (they may need tokio); `None` polls them on this thread,
    /// which is enough for hooks that do no I/O.
    pub runtime: Option<&'r tokio::runtime::Handle>,
    /// Module instances whose resources keep their recorded values (a run over other
    /// partitions of the fleet): their instances are neither evaluated nor given to the
    /// hook; each takes [`Hook::recorded`]. `None` walks everything.
    pub frozen: Option<&'r dyn Fn(&ModuleInstance) -> bool>,
    /// With `frozen`: a frozen module instance that nothing outside it refers to (no
    /// expression outside its module call reads its outputs or names the call) is left
    /// out altogether, without a unit or an instance, and listed in
    /// [`Expansion::omitted`]. A run over a few partitions of a fleet whose partitions
    /// read nothing of each other then costs what those partitions cost.
    pub omit_unread: bool,
}

enum Kind {
    /// A variable, local, output, provider block or module call.
    Item(NodeId),
    /// A resource block's `count`/`for_each`: makes its instances.
    Expand(NodeId),
    /// One resource instance.
    Instance {
        node: NodeId,
        key: InstanceKey,
        rep: Repetition,
    },
    /// Every instance of a resource block is done.
    Gather(NodeId),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for its static dependencies.
    Waiting,
    /// Its late dependencies (children's outputs, single instances) are added; waiting
    /// for those.
    Resolved,
    /// An instance waiting for the hook to admit it (a rollout's batch).
    Gated,
    /// An instance ready to start, waiting for a free slot.
    Queued,
    /// An instance whose hook future runs.
    Running,
    Done,
}

/// A dependency known only once something else is done.
enum Late {
    /// The unit of `node` in every child of `call` in `module`, once the call expanded.
    Children {
        module: ModuleId,
        call: String,
        node: NodeId,
    },
    /// The instances of resource `node` in `module` that the keys name, once it expanded.
    Instances {
        module: ModuleId,
        node: NodeId,
        keys: Vec<InstanceKey>,
    },
}

struct Unit {
    module: ModuleId,
    kind: Kind,
    waiting: usize,
    dependents: Vec<UnitId>,
    phase: Phase,
    late: Vec<Late>,
    /// The first failed instance this unit depends on, directly or not.
    blocked_by: Option<String>,
    /// The resources it depends on, looking through everything that is not a resource.
    resources: Vec<AbsResource>,
}

/// How an item refers to one resource of the module it is evaluated in.
enum Refs {
    /// Only by keys each instance computes from its own `each`/`count` (or literal keys).
    Keys(Vec<KeySource>),
    /// Some other way: it needs all of it.
    Whole,
}

enum KeySource {
    Literal(InstanceKey),
    Expr(Box<Expression>),
}

/// The configuration graph with numbered nodes.
struct Nodes {
    list: Vec<ConfigNode>,
    /// Each node's dependencies.
    deps: Vec<Vec<NodeId>>,
    /// A resource node's `count`/`for_each` dependencies.
    meta: Vec<Vec<NodeId>>,
    /// For a node in a called module: the module call node that expands it.
    call_of: Vec<Option<NodeId>>,
    /// The nodes of each module.
    by_path: HashMap<ModulePath, Vec<NodeId>>,
    /// For resource nodes (their instances' expressions) and module input variables (the
    /// call's argument, evaluated in the calling module): resources referred to by key.
    refined: Vec<HashMap<crate::addrs::Resource, Refs>>,
}

/// A resource block in one module instance, once its keys are known.
struct ExpandedBlock<'c> {
    mode: Mode,
    checked_only: bool,
    provider: ProviderConfigAddr,
    schema: &'c Schema,
    instances: HashMap<InstanceKey, UnitId>,
}

pub(super) struct Walk<'w, 'c> {
    exp: &'w mut Expansion<'c>,
    inputs: &'w indexmap::IndexMap<String, crate::inputs::InputValue>,
    hook: &'w dyn Hook,
    diags: &'w mut Diagnostics,
    parallelism: usize,
    frozen: Option<&'w dyn Fn(&ModuleInstance) -> bool>,
    /// With `omit_unread`: the called modules (by path) that something outside them reads,
    /// whose frozen instances are kept; `None`: every frozen instance is kept.
    read_outside: Option<HashSet<ModulePath>>,
    nodes: Nodes,
    modules: Vec<(ModuleInstance, ModulePath)>,
    module_ids: HashMap<ModuleInstance, ModuleId>,
    /// Boxed: a fleet has a unit per instance, and growing a list of them in place would
    /// copy every unit each time it doubles.
    #[expect(
        clippy::vec_box,
        reason = "a unit is 248 bytes and a fleet has one per instance"
    )]
    units: Vec<Box<Unit>>,
    /// The `Item`/`Expand` unit of each node in each module instance.
    items: HashMap<(ModuleId, NodeId), UnitId>,
    gathers: HashMap<(ModuleId, NodeId), UnitId>,
    blocks: HashMap<(ModuleId, NodeId), ExpandedBlock<'c>>,
    ready: VecDeque<UnitId>,
    queued: VecDeque<UnitId>,
    running: FuturesUnordered<LocalBoxFuture<'w, (UnitId, Outcome)>>,
    /// Instances waiting for admission, resolving to their unit.
    gated: FuturesUnordered<LocalBoxFuture<'w, UnitId>>,
}

/// What woke the walk.
enum Event {
    Finished(UnitId, Outcome),
    Admitted(UnitId),
    BackgroundDone,
    Idle,
}

impl<'w, 'c> Walk<'w, 'c> {
    pub(super) fn new(
        exp: &'w mut Expansion<'c>,
        order: &Order,
        inputs: &'w indexmap::IndexMap<String, crate::inputs::InputValue>,
        hook: &'w dyn Hook,
        options: WalkOptions<'w>,
        diags: &'w mut Diagnostics,
    ) -> Walk<'w, 'c> {
        let parallelism = options.parallelism;
        let nodes = Nodes::new(exp.config, order);
        let read_outside = (options.omit_unread && options.frozen.is_some())
            .then(|| super::order::read_from_outside(order));
        let mut walk = Walk {
            exp,
            inputs,
            hook,
            diags,
            parallelism: if parallelism == 0 {
                usize::MAX
            } else {
                parallelism
            },
            frozen: options.frozen,
            read_outside,
            nodes,
            modules: Vec::new(),
            module_ids: HashMap::new(),
            units: Vec::new(),
            items: HashMap::new(),
            gathers: HashMap::new(),
            blocks: HashMap::new(),
            ready: VecDeque::new(),
            queued: VecDeque::new(),
            running: FuturesUnordered::new(),
            gated: FuturesUnordered::new(),
        };
        walk.add_module(ModuleInstance::root(), None);
        walk
    }

    /// Walks until every unit is done.
    pub(super) async fn run(&mut self) {
        let mut background = self.hook.background();
        let mut told_stalled = false;
        loop {
            let mut inline = 0usize;
            while let Some(unit) = self.ready.pop_front() {
                self.step(unit);
                inline += 1;
                // Let instances in flight make progress while evaluation goes on.
                if inline.is_multiple_of(64) {
                    self.collect_finished();
                }
            }
            while self.running.len() < self.parallelism
                && let Some(unit) = self.queued.pop_front()
            {
                self.start(unit);
            }
            if !self.ready.is_empty() {
                continue;
            }
            let idle = self.running.is_empty() && self.queued.is_empty();
            if idle && self.gated.is_empty() && background.is_none() {
                break;
            }
            let event = std::future::poll_fn(|cx| {
                use std::task::Poll;
                // The hook's own work first: what it lets in is then admitted in this same
                // poll, so the walk never looks idle while instances were just let in.
                if let Some(work) = background.as_mut()
                    && work.poll_unpin(cx).is_ready()
                {
                    return Poll::Ready(Event::BackgroundDone);
                }
                if let Poll::Ready(Some((unit, outcome))) = self.running.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Finished(unit, outcome));
                }
                if let Poll::Ready(Some(unit)) = self.gated.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Admitted(unit));
                }
                if idle && !told_stalled {
                    return Poll::Ready(Event::Idle);
                }
                Poll::Pending
            })
            .await;
            match event {
                Event::Finished(unit, outcome) => {
                    told_stalled = false;
                    self.finish(unit, outcome);
                }
                Event::Admitted(unit) => {
                    told_stalled = false;
                    self.units[unit].phase = Phase::Queued;
                    self.queued.push_front(unit);
                }
                Event::BackgroundDone => background = None,
                Event::Idle => {
                    told_stalled = true;
                    self.hook.stalled();
                }
            }
        }
        let stuck = self.units.iter().filter(|u| u.phase != Phase::Done).count();
        debug_assert_eq!(stuck, 0, "every unit of the walk finishes");
        if stuck > 0 {
            tracing::error!(stuck, "units left waiting at the end of the walk");
        }
    }

    /// Finishes instances whose futures are done, without waiting for any.
    fn collect_finished(&mut self) {
        while let Some(Some((unit, outcome))) = self.running.next().now_or_never() {
            self.finish(unit, outcome);
        }
    }

    fn add_module(&mut self, module: ModuleInstance, parent: Option<ModuleId>) -> ModuleId {
        let id = self.modules.len();
        let path = module.path();
        self.modules.push((module.clone(), path.clone()));
        self.module_ids.insert(module, id);
        let _ = parent;
        let node_ids = self.nodes.by_path.get(&path).cloned().unwrap_or_default();
        let mut created = Vec::with_capacity(node_ids.len() * 2);
        for &node in &node_ids {
            if let Item::Resource(_) = self.nodes.list[node].item {
                let expand = self.new_unit(id, Kind::Expand(node));
                let gather = self.new_unit(id, Kind::Gather(node));
                self.items.insert((id, node), expand);
                self.gathers.insert((id, node), gather);
                self.edge(expand, gather);
                created.push(expand);
            } else {
                let unit = self.new_unit(id, Kind::Item(node));
                self.items.insert((id, node), unit);
                created.push(unit);
            }
        }
        for unit in created {
            self.wire(unit);
            if self.units[unit].waiting == 0 {
                self.ready.push_back(unit);
            }
        }
        id
    }

    fn new_unit(&mut self, module: ModuleId, kind: Kind) -> UnitId {
        self.units.push(Box::new(Unit {
            module,
            kind,
            waiting: 0,
            dependents: Vec::new(),
            phase: Phase::Waiting,
            late: Vec::new(),
            blocked_by: None,
            resources: Vec::new(),
        }));
        self.units.len() - 1
    }

    /// Makes `to` wait for `from`, or takes what `from` passes on if it is done.
    fn edge(&mut self, from: UnitId, to: UnitId) {
        if from == to {
            return;
        }
        if self.units[from].phase == Phase::Done {
            self.absorb(from, to);
        } else {
            self.units[from].dependents.push(to);
            self.units[to].waiting += 1;
        }
    }

    /// Passes what a finished dependency carries to its dependent: the resources behind it
    /// and a failure.
    fn absorb(&mut self, from: UnitId, to: UnitId) {
        let (done, unit) = pick2(&mut self.units, from, to);
        match done.kind {
            Kind::Item(_) => unit.resources.extend(done.resources.iter().cloned()),
            Kind::Expand(node) | Kind::Gather(node) | Kind::Instance { node, .. } => {
                let resource = match &self.nodes.list[node].item {
                    Item::Resource(r) => r.clone(),
                    _ => unreachable!("resource units belong to resource nodes"),
                };
                unit.resources.push(AbsResource {
                    module: self.modules[done.module].0.clone(),
                    resource,
                });
            }
        }
        if unit.blocked_by.is_none() {
            unit.blocked_by = done.blocked_by.clone();
        }
    }

    /// Adds a unit's static dependencies and records its late ones.
    fn wire(&mut self, unit: UnitId) {
        let module = self.units[unit].module;
        let (node, meta_only) = match self.units[unit].kind {
            Kind::Item(n) | Kind::Instance { node: n, .. } => (n, false),
            Kind::Expand(n) => (n, true),
            Kind::Gather(_) => return,
        };
        let deps = if meta_only {
            self.nodes.meta[node].clone()
        } else {
            self.nodes.deps[node].clone()
        };
        let parent = self.parent_of(module);
        let own_call = self.nodes.call_of[node];
        let refining = matches!(self.units[unit].kind, Kind::Instance { .. })
            || (matches!(self.nodes.list[node].item, Item::Var(_)) && parent.is_some());
        let mut seen = HashSet::new();
        for target in deps {
            if !seen.insert(target) {
                continue;
            }
            // Everything in a called module waits for the call's expansion, which made it.
            if parent.is_some() && Some(target) == own_call {
                continue;
            }
            let target_path = &self.nodes.list[target].path;
            let here = &self.modules[module].1;
            let scope = if target_path == here {
                Some(module)
            } else if let Some(p) = parent
                && *target_path == self.modules[p].1
            {
                Some(p)
            } else {
                None
            };
            if let Some(scope) = scope {
                let target_item = self.nodes.list[target].item.clone();
                match target_item {
                    Item::Resource(r) => {
                        // Instances refine references in their own module; a module's
                        // inputs refine those in the calling module (with the call's keys).
                        let refines = refining
                            && !meta_only
                            && (scope == module)
                                == matches!(self.units[unit].kind, Kind::Instance { .. });
                        let keys = if refines {
                            self.keys_for(unit, node, &r)
                        } else {
                            None
                        };
                        match keys {
                            Some(keys) => {
                                let expand = self.items[&(scope, target)];
                                self.edge(expand, unit);
                                self.units[unit].late.push(Late::Instances {
                                    module: scope,
                                    node: target,
                                    keys,
                                });
                            }
                            None => {
                                let gather = self.gathers[&(scope, target)];
                                self.edge(gather, unit);
                            }
                        }
                    }
                    _ => {
                        if let Some(&target_unit) = self.items.get(&(scope, target)) {
                            self.edge(target_unit, unit);
                        }
                    }
                }
                continue;
            }
            // A child module's output: wait for the call, then for its instances' outputs.
            let Some(call_node) = self.nodes.call_of[target] else {
                continue;
            };
            let call_path = &self.nodes.list[call_node].path;
            let caller = if call_path == here {
                Some(module)
            } else {
                parent.filter(|p| self.modules[*p].1 == *call_path)
            };
            let Some(caller) = caller else { continue };
            let Item::ModuleCall(call) = self.nodes.list[call_node].item.clone() else {
                continue;
            };
            if let Some(&call_unit) = self.items.get(&(caller, call_node)) {
                self.edge(call_unit, unit);
            }
            self.units[unit].late.push(Late::Children {
                module: caller,
                call,
                node: target,
            });
        }
    }

    /// The instance keys `unit` refers to resource `r` by, when every reference names one
    /// instance by a key it can compute now.
    fn keys_for(
        &mut self,
        unit: UnitId,
        node: NodeId,
        r: &crate::addrs::Resource,
    ) -> Option<Vec<InstanceKey>> {
        let Some(Refs::Keys(sources)) = self.nodes.refined[node].get(r) else {
            return None;
        };
        let rep = match &self.units[unit].kind {
            Kind::Instance { rep, .. } => rep.clone(),
            _ => {
                let m = &self.modules[self.units[unit].module].0;
                self.exp
                    .data
                    .get(m)
                    .map(|d| d.rep.clone())
                    .unwrap_or_default()
            }
        };
        let mut keys = Vec::with_capacity(sources.len());
        for source in sources {
            match source {
                KeySource::Literal(k) => keys.push(k.clone()),
                KeySource::Expr(e) => {
                    let value = eval_key(e, &rep)?;
                    keys.push(value);
                }
            }
        }
        Some(keys)
    }

    fn parent_of(&self, module: ModuleId) -> Option<ModuleId> {
        let m = &self.modules[module].0;
        let (_, rest) = m.0.split_last()?;
        self.module_ids.get(&ModuleInstance(rest.to_vec())).copied()
    }

    /// Runs a unit whose dependencies are done: first adds its late dependencies, then
    /// evaluates it (or queues it, for an instance).
    fn step(&mut self, unit: UnitId) {
        if self.units[unit].phase == Phase::Waiting {
            self.units[unit].phase = Phase::Resolved;
            self.resolve_late(unit);
            if self.units[unit].waiting > 0 {
                return;
            }
        }
        match self.units[unit].kind {
            Kind::Item(node) => {
                self.evaluate_item(unit, node);
                self.complete(unit);
            }
            Kind::Expand(node) => {
                self.expand(unit, node);
                self.complete(unit);
            }
            Kind::Gather(_) => self.complete(unit),
            Kind::Instance { .. } => {
                if let Some(wait) = self.admission(unit) {
                    self.units[unit].phase = Phase::Gated;
                    self.gated.push(Box::pin(wait.map(move |()| unit)));
                    return;
                }
                if self.running.len() < self.parallelism {
                    self.start(unit);
                } else {
                    self.units[unit].phase = Phase::Queued;
                    self.queued.push_back(unit);
                }
            }
        }
    }

    fn resolve_late(&mut self, unit: UnitId) {
        let late = std::mem::take(&mut self.units[unit].late);
        for dep in late {
            match dep {
                Late::Children { module, call, node } => {
                    let m = self.modules[module].0.clone();
                    let children: Vec<ModuleInstance> = self
                        .exp
                        .data
                        .get(&m)
                        .and_then(|d| d.children.get(&call))
                        .map(|(_, cs)| cs.iter().map(|(_, c)| c.clone()).collect())
                        .unwrap_or_default();
                    for child in children {
                        let Some(&child_id) = self.module_ids.get(&child) else {
                            continue;
                        };
                        if let Some(&target) = self.items.get(&(child_id, node)) {
                            self.edge(target, unit);
                        }
                    }
                }
                Late::Instances { module, node, keys } => {
                    let targets: Vec<UnitId> = match self.blocks.get(&(module, node)) {
                        Some(block) if !block.checked_only => {
                            let found: Option<Vec<UnitId>> = keys
                                .iter()
                                .map(|k| block.instances.get(k).copied())
                                .collect();
                            // A key that names no instance is the evaluator's error to
                            // report; wait for all of it, as a whole reference would.
                            found.unwrap_or_else(|| vec![self.gathers[&(module, node)]])
                        }
                        _ => vec![self.gathers[&(module, node)]],
                    };
                    for target in targets {
                        self.edge(target, unit);
                    }
                }
            }
        }
    }

    fn complete(&mut self, unit: UnitId) {
        self.units[unit].phase = Phase::Done;
        let dependents = std::mem::take(&mut self.units[unit].dependents);
        for dependent in dependents {
            self.absorb(unit, dependent);
            let d = &mut self.units[dependent];
            d.waiting -= 1;
            if d.waiting == 0 {
                self.ready.push_back(dependent);
            }
        }
        // Only dependents read it; an item's list is kept for later late edges.
        if !matches!(self.units[unit].kind, Kind::Item(_)) {
            self.units[unit].resources = Vec::new();
        }
    }

    fn evaluate_item(&mut self, unit: UnitId, node: NodeId) {
        let module = self.units[unit].module;
        let m = self.modules[module].0.clone();
        let item = self.nodes.list[node].item.clone();
        match item {
            Item::Var(name) => self.exp.variable(&m, &name, self.inputs, self.diags),
            Item::Local(name) => self.exp.local(&m, &name, self.diags),
            Item::Output(name) => self.exp.output(&m, &name, self.diags),
            Item::Provider(name, alias) => self.exp.provider(&m, &name, alias, self.diags),
            Item::ModuleCall(name) => {
                self.exp.module_call(&m, &name, self.diags);
                let children: Vec<ModuleInstance> = self
                    .exp
                    .data
                    .get(&m)
                    .and_then(|d| d.children.get(&name))
                    .map(|(_, cs)| cs.iter().map(|(_, c)| c.clone()).collect())
                    .unwrap_or_default();
                for child in children {
                    if self.omits(&child) {
                        self.exp.omitted.push(child);
                    } else {
                        self.add_module(child, Some(module));
                    }
                }
            }
            Item::Resource(_) => unreachable!("resource nodes have Expand units"),
        }
    }

    /// Whether `module` is frozen and nothing outside it reads it.
    fn omits(&self, module: &ModuleInstance) -> bool {
        let (Some(read), Some(frozen)) = (&self.read_outside, self.frozen) else {
            return false;
        };
        frozen(module) && !read.contains(&module.path())
    }

    fn expand(&mut self, unit: UnitId, node: NodeId) {
        let module = self.units[unit].module;
        let m = self.modules[module].0.clone();
        let Item::Resource(addr) = self.nodes.list[node].item.clone() else {
            return;
        };
        let Some(block) = self.exp.expand_resource(&m, &addr, self.diags) else {
            return;
        };
        if self.frozen.is_some_and(|frozen| frozen(&m)) {
            self.settle(&m, &addr, block);
            return;
        }
        let gather = self.gathers[&(module, node)];
        let mut instances = HashMap::with_capacity(block.entries.len());
        let mut created = Vec::with_capacity(block.entries.len());
        for (key, rep) in block.entries {
            let instance = self.new_unit(
                module,
                Kind::Instance {
                    node,
                    key: key.clone(),
                    rep,
                },
            );
            instances.insert(key, instance);
            created.push(instance);
        }
        self.blocks.insert(
            (module, node),
            ExpandedBlock {
                mode: block.mode,
                checked_only: block.checked_only,
                provider: block.provider,
                schema: block.schema,
                instances,
            },
        );
        for instance in created {
            self.edge(instance, gather);
            self.wire(instance);
            if self.units[instance].waiting == 0 {
                self.ready.push_back(instance);
            }
        }
    }

    /// A resource block of a frozen module instance: each instance takes the value the
    /// hook recorded for it, and makes no unit (references to it wait for its gather).
    fn settle(&mut self, m: &ModuleInstance, addr: &Resource, block: ExpandedResource<'c>) {
        for (key, _) in block.entries {
            let instance = AbsResourceInstance {
                module: m.clone(),
                resource: addr.instance(key.clone()),
            };
            let value = self.hook.recorded(&instance);
            self.exp.store_instance(m, addr, block.mode, &key, value);
            self.exp.resources.push(ResourceInstance {
                addr: instance,
                provider: block.provider.clone(),
            });
        }
    }

    /// What the hook says about starting an instance unit now.
    fn admission(&self, unit: UnitId) -> Option<LocalBoxFuture<'w, ()>> {
        let Kind::Instance { node, key, .. } = &self.units[unit].kind else {
            return None;
        };
        let Item::Resource(resource) = &self.nodes.list[*node].item else {
            return None;
        };
        let addr = AbsResourceInstance {
            module: self.modules[self.units[unit].module].0.clone(),
            resource: resource.instance(key.clone()),
        };
        self.hook.admission(&addr)
    }

    fn start(&mut self, unit: UnitId) {
        let module = self.units[unit].module;
        let Kind::Instance { node, key, rep } = &self.units[unit].kind else {
            return;
        };
        let (node, key, rep) = (*node, key.clone(), rep.clone());
        let m = self.modules[module].0.clone();
        let Item::Resource(addr) = self.nodes.list[node].item.clone() else {
            return;
        };
        let block = &self.blocks[&(module, node)];
        let (schema, provider, checked_only) =
            (block.schema, block.provider.clone(), block.checked_only);
        let config = self
            .exp
            .instance_config(&m, &addr, &key, &rep, schema, self.diags);
        if checked_only {
            self.units[unit].phase = Phase::Done;
            self.complete(unit);
            return;
        }
        let config_ref = self.exp.config;
        let block_config = &config_ref.modules[&m.path()].resources[&addr];
        let mut dependencies = std::mem::take(&mut self.units[unit].resources);
        dependencies.sort();
        dependencies.dedup();
        let instance = AbsResourceInstance {
            module: m,
            resource: addr.instance(key),
        };
        self.exp
            .dependencies
            .push((instance.clone(), dependencies.clone()));
        let request = InstanceRequest {
            addr: instance,
            provider: provider.clone(),
            schema,
            block: block_config,
            config,
            provider_config: self
                .exp
                .provider_values
                .get(&provider)
                .cloned()
                .unwrap_or_default(),
            dependencies,
            blocked_by: self.units[unit].blocked_by.clone(),
        };
        self.units[unit].phase = Phase::Running;
        let mut future = self.hook.instance(request);
        match (&mut future).now_or_never() {
            Some(outcome) => self.finish(unit, outcome),
            None => self
                .running
                .push(Box::pin(future.map(move |outcome| (unit, outcome)))),
        }
    }

    fn finish(&mut self, unit: UnitId, outcome: Outcome) {
        let module = self.units[unit].module;
        let Kind::Instance { node, key, rep } = &self.units[unit].kind else {
            return;
        };
        let (node, key, rep) = (*node, key.clone(), rep.clone());
        let m = self.modules[module].0.clone();
        let Item::Resource(addr) = self.nodes.list[node].item.clone() else {
            return;
        };
        let mode = self.blocks[&(module, node)].mode;
        let provider = self.blocks[&(module, node)].provider.clone();
        let instance = AbsResourceInstance {
            module: m.clone(),
            resource: addr.instance(key.clone()),
        };
        self.diags.extend(outcome.diags);
        self.exp
            .postconditions(&m, &addr, &key, &rep, &outcome.value, self.diags);
        self.exp
            .store_instance(&m, &addr, mode, &key, outcome.value);
        if outcome.failed && self.units[unit].blocked_by.is_none() {
            self.units[unit].blocked_by = Some(instance.to_string());
        }
        self.exp.resources.push(ResourceInstance {
            addr: instance,
            provider,
        });
        self.complete(unit);
    }
}

/// Two distinct elements of a slice, the first shared and the second mutable.
fn pick2(units: &mut [Box<Unit>], a: UnitId, b: UnitId) -> (&Unit, &mut Unit) {
    debug_assert_ne!(a, b);
    if a < b {
        let (left, right) = units.split_at_mut(b);
        (&left[a], &mut right[0])
    } else {
        let (left, right) = units.split_at_mut(a);
        (&right[0], &mut left[b])
    }
}

/// The key an index expression gives with the repetition's `each`/`count`.
fn eval_key(expr: &Expression, rep: &Repetition) -> Option<InstanceKey> {
    let scope = super::scope::RepetitionScope { rep };
    let value = crate::lang::eval(expr, &scope).ok()?;
    match value {
        Value::String(s) => Some(InstanceKey::Str(s)),
        Value::Number(n) => n.as_i64().map(InstanceKey::Int),
        _ => None,
    }
}

impl Nodes {
    fn new(config: &crate::config::Config, order: &Order) -> Nodes {
        let list = order.sequence.clone();
        let ids: HashMap<&ConfigNode, NodeId> =
            list.iter().enumerate().map(|(i, n)| (n, i)).collect();
        let resolve = |deps: Option<&Vec<super::Dep>>| -> Vec<NodeId> {
            deps.into_iter()
                .flatten()
                .filter_map(|d| ids.get(&d.on).copied())
                .collect()
        };
        let deps = list.iter().map(|n| resolve(order.deps.get(n))).collect();
        let meta = list
            .iter()
            .map(|n| resolve(order.meta_deps.get(n)))
            .collect();
        let call_of = list
            .iter()
            .map(|n| {
                let (call, parent) = n.path.0.split_last()?;
                ids.get(&ConfigNode {
                    path: ModulePath(parent.to_vec()),
                    item: Item::ModuleCall(call.clone()),
                })
                .copied()
            })
            .collect();
        let mut by_path: HashMap<ModulePath, Vec<NodeId>> = HashMap::new();
        for (i, n) in list.iter().enumerate() {
            by_path.entry(n.path.clone()).or_default().push(i);
        }
        let refined = list.iter().map(|n| refined_refs(config, n)).collect();
        Nodes {
            list,
            deps,
            meta,
            call_of,
            by_path,
            refined,
        }
    }
}

/// How a resource node's instances (or a module input variable's argument) refer to
/// the resources of the module they are evaluated in.
fn refined_refs(
    config: &crate::config::Config,
    node: &ConfigNode,
) -> HashMap<crate::addrs::Resource, Refs> {
    use super::subject::{Subject, subject};
    let mut refs = Vec::new();
    match &node.item {
        Item::Resource(r) => {
            let Some(block) = config
                .modules
                .get(&node.path)
                .and_then(|m| m.resources.get(r))
            else {
                return HashMap::new();
            };
            refs.extend(crate::lang::references_in_body(&block.body));
            let l = &block.lifecycle;
            for check in l.preconditions.iter().chain(&l.postconditions) {
                refs.extend(references(&check.condition.expr));
                refs.extend(references(&check.error_message.expr));
            }
            for e in block.depends_on.iter().chain(&l.replace_triggered_by) {
                refs.extend(references(&e.expr));
            }
        }
        Item::Var(name) => {
            let Some((call, parent)) = node.path.0.split_last() else {
                return HashMap::new();
            };
            let input = config
                .modules
                .get(&ModulePath(parent.to_vec()))
                .and_then(|m| m.module_calls.get(call))
                .and_then(|c| c.inputs.get(name));
            if let Some(input) = input {
                refs.extend(references(&input.value.expr));
            }
        }
        _ => return HashMap::new(),
    }
    let mut out: HashMap<crate::addrs::Resource, Refs> = HashMap::new();
    for r in refs {
        let Ok(Subject::Resource(resource, key)) = subject(&r) else {
            continue;
        };
        let name_steps = match resource.mode {
            crate::addrs::ResourceMode::Managed => 1,
            crate::addrs::ResourceMode::Data => 2,
        };
        let source = match key {
            Some(k) => Some(KeySource::Literal(k)),
            None if r.steps.len() == name_steps => r
                .dynamic_index
                .filter(|e| {
                    references(e)
                        .iter()
                        .all(|inner| matches!(inner.root.as_str(), "each" | "count"))
                })
                .map(KeySource::Expr),
            None => None,
        };
        let entry = out.entry(resource).or_insert(Refs::Keys(Vec::new()));
        match (entry, source) {
            (Refs::Keys(list), Some(s)) => list.push(s),
            (entry, _) => *entry = Refs::Whole,
        }
    }
    out
}
