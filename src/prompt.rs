//! STUB — replaced by the prompt module.
#![allow(dead_code)]
use crate::ffi::sasl::{PromptRequest, Prompter};

pub struct CliPrompter {
    pub authname: String,
    pub authzid: Option<String>,
    pub password: Option<String>,
    pub realm: Option<String>,
}

impl Prompter for CliPrompter {
    fn answer(&mut self, _request: &PromptRequest) -> Vec<u8> {
        todo!()
    }
}

pub fn current_login_name() -> String {
    todo!()
}
