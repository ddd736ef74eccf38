//! The `wsgi-lab` command: parse the arguments, then call the library.

mod cli;

fn main() {
    std::process::exit(cli::run(std::env::args_os()));
}
