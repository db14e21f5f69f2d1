//! `fleetform-lab-apiserver`: the lab's stand-in for kube-apiserver, started by the lab's
//! node agent from the kube-apiserver static pod with kube-apiserver's flags. See
//! `fleetform_tests::lab::apiserver`.

fn main() -> std::process::ExitCode {
    fleetform_tests::lab::apiserver::main()
}
