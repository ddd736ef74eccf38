//! The `wsgi-lab` command: parse the arguments, then call the library.

mod cli;

fn main() {
    // Before any other hook: an app's panic is then reported once, by the server's log.
    wsgi_lab::panics::install_hook();
    std::process::exit(cli::run(std::env::args_os()));
}
