//! Everything between the program and the server's bytes: connecting, the HAProxy
//! header, the TLS engine, and the layered connection stack.

pub mod connect;
pub mod haproxy;
pub mod socket;
pub mod stack;
pub mod tls;
