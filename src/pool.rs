//! Pool mode (waitress): to be built.
use crate::server::Server;
use std::io;

pub(crate) fn serve(_server: &Server) -> io::Result<()> {
    Err(io::Error::other("pool mode is not built yet"))
}
