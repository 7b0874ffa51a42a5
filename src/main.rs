//! `pipit <subcommand>`: the one binary. All logic lives in the library.

fn main() {
    std::process::exit(pipit::cli::run(std::env::args_os().collect()));
}
