//! `fleetform-lab-vip`: the lab's stand-in for kube-vip, run by the node agent for the
//! kube-vip static pod. See `fleetform_tests::lab::vip`.

fn main() -> std::process::ExitCode {
    fleetform_tests::lab::vip::main()
}
