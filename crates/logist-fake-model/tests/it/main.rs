//! The fake model server tested on its own, with plain HTTP/1.1 requests
//! over a `TcpStream`: each wire format, streamed and not, the tool-call
//! script, the side endpoints, bad requests, and the request record.

mod client;
mod formats;
mod protocol;
