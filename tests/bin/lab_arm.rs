//! `fleetform-lab-arm`: the lab's stand-in for Azure Resource Manager, Entra ID, the
//! managed identity endpoint and an OIDC issuer. See `fleetform_tests::lab::arm`.

fn main() -> std::process::ExitCode {
    fleetform_tests::lab::arm::main()
}
