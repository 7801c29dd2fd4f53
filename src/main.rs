//! The `trousseau` command.

fn main() -> std::process::ExitCode {
    trousseau::cli::main()
}
