//! The `fleet-attest` command; see the library's `cli` module.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(fleet_attest::cli::main())
}
