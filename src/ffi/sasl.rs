//! STUB — interface only; the real wrapper replaces this file.
#![allow(dead_code, unused_variables)]

pub type Code = i32;
pub const SASL_OK: Code = 0;
pub const SASL_CONTINUE: Code = 1;
pub const SASL_FAIL: Code = -1;
pub const SASL_NOMECH: Code = -4;
pub const SASL_BADPROT: Code = -5;
pub const SASL_BUFOVER: Code = -3;

/// What the library asks for (spec §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    User,
    AuthName,
    Pass,
    GetRealm,
    EchoPrompt,
    NoEchoPrompt,
}

/// One interaction the library wants filled.
#[derive(Debug)]
pub struct PromptRequest<'a> {
    pub kind: PromptKind,
    pub challenge: Option<&'a str>,
    pub prompt: &'a str,
    pub default: Option<&'a str>,
}

/// Answers interactions (implemented by the auth code: `-w`/`-a`/`-u`/`-r`, prompts).
pub trait Prompter {
    fn answer(&mut self, request: &PromptRequest) -> Vec<u8>;
}

/// Process-wide client set-up (spec §5.1).
pub struct ClientConfig {
    pub challenge_prompts: bool,
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ConnFlags {
    pub need_proxy: bool,
    pub success_data: bool,
    pub need_http: bool,
}

/// Result of `sasl_client_start` / `sasl_client_step` after interactions were filled.
#[derive(Debug)]
pub struct StepResult {
    pub code: Code,
    /// The mechanism chosen (start only).
    pub mechanism: Option<String>,
    /// `None` = the library produced no output pointer; `Some(vec![])` = zero-length output.
    pub output: Option<Vec<u8>>,
}

pub fn client_init(config: ClientConfig) -> Result<(), Code> {
    todo!()
}

pub fn errstring(code: Code) -> String {
    todo!()
}

pub fn encode64(data: &[u8]) -> Result<Vec<u8>, Code> {
    todo!()
}

pub fn decode64(text: &[u8]) -> Result<Vec<u8>, Code> {
    todo!()
}

pub struct Conn {}

impl Conn {
    pub fn new(
        service: &str,
        server_fqdn: Option<&str>,
        local_ip_port: Option<&str>,
        remote_ip_port: Option<&str>,
        flags: ConnFlags,
    ) -> Result<Conn, Code> {
        todo!()
    }
    pub fn set_security(
        &mut self,
        min_ssf: u32,
        max_ssf: u32,
        maxbufsize: u32,
    ) -> Result<(), Code> {
        todo!()
    }
    pub fn set_external_ssf(&mut self, ssf: u32) -> Result<(), Code> {
        todo!()
    }
    pub fn set_external_auth_id(&mut self, id: Option<&str>) -> Result<(), Code> {
        todo!()
    }
    pub fn set_channel_binding(
        &mut self,
        name: &str,
        critical: bool,
        data: &[u8],
    ) -> Result<(), Code> {
        todo!()
    }
    pub fn set_http_request(
        &mut self,
        method: &str,
        uri: &str,
        entity: &[u8],
        non_persist: bool,
    ) -> Result<(), Code> {
        todo!()
    }
    pub fn start(
        &mut self,
        mechlist: &[u8],
        want_initial_response: bool,
        prompter: &mut dyn Prompter,
    ) -> StepResult {
        todo!()
    }
    pub fn step(&mut self, challenge: &[u8], prompter: &mut dyn Prompter) -> StepResult {
        todo!()
    }
    pub fn ssf(&self) -> Result<u32, Code> {
        todo!()
    }
    pub fn max_out_buf(&self) -> Result<u32, Code> {
        todo!()
    }
    pub fn encode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        todo!()
    }
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        todo!()
    }
    pub fn errdetail(&self) -> Option<String> {
        todo!()
    }
}
