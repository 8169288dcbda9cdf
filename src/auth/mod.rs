//! Authentication: the generic SASL exchange every protocol shares ([`exchange`]), and the
//! paths of the protocols that have their own (IMAP LOGIN, POP3 USER/PASS and APOP, NNTP
//! AUTHINFO USER, HTTP's schemes). The protocol table itself (`crate::protocol`) is data only.

pub mod exchange;
pub mod http;
pub mod imap;
pub mod nntp;
pub mod pop3;
