//! The built-in providers. This is the one place that knows every provider crate.

use std::sync::Arc;

use fleetform_planner::providers::{DuplicateType, Providers};

/// A registry of every built-in provider.
pub fn builtin() -> Result<Providers, DuplicateType> {
    let mut providers = Providers::new();
    // The cluster provider works on the hosts the host provider knows, over the same
    // connections.
    let fleet = fleetform_provider_host::Fleet::new();
    providers.register(
        fleetform_provider_fleetform::NAME,
        Arc::new(fleetform_provider_fleetform::FleetformProvider),
    )?;
    providers.register(
        fleetform_provider_host::NAME,
        Arc::new(fleetform_provider_host::HostProvider::new(fleet.clone())),
    )?;
    let kubernetes = Arc::new(fleetform_provider_kubernetes::KubernetesProvider::new(
        fleet,
    ));
    providers.register(fleetform_provider_kubernetes::NAME, kubernetes.clone())?;
    // Add-ons reach the clusters the kubernetes provider manages through it (`cluster =
    // cluster.x.id`); sources are cached in the working directory (after -chdir).
    providers.register(
        fleetform_provider_addons::NAME,
        Arc::new(fleetform_provider_addons::AddonsProvider::new(
            fleetform_provider_addons::CACHE_DIR,
            kubernetes.clone(),
        )),
    )?;
    // Arc's agents are installed the same way, also in clusters behind a jump host.
    providers.register(
        fleetform_provider_arc::NAME,
        Arc::new(fleetform_provider_arc::ArcProvider::with_clusters(
            kubernetes,
        )),
    )?;
    Ok(providers)
}
