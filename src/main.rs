//! The `bullpen` binary: see [`bullpen::scripts`].

fn main() -> std::process::ExitCode {
    bullpen::scripts::main()
}
