//! Everything between the program and the server's bytes: connecting, the HAProxy
//! header, and the layered connection stack.

pub mod connect;
pub mod haproxy;
pub mod socket;
pub mod stack;
