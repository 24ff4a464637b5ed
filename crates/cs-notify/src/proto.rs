//! The gRPC messages and calls of upstream's `notifier.proto` (package `proto`, service
//! `Notifier`) and of go-plugin's controller, written by hand with prost and a plain tonic client.

use http::uri::PathAndQuery;
use tonic::client::Grpc;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

/// `proto.Notification`: the rendered text and the notification name.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Notification {
    /// The rendered `format`.
    #[prost(string, tag = "1")]
    pub text: String,
    /// The notification name (one plugin process serves every notification of its type).
    #[prost(string, tag = "2")]
    pub name: String,
}

/// `proto.Config`: one notification document, as YAML.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Config {
    /// The YAML bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub config: Vec<u8>,
}

/// `proto.Empty` (and go-plugin's `plugin.Empty`, also field-less).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(crate) struct Empty {}

const NOTIFY: &str = "/proto.Notifier/Notify";
const CONFIGURE: &str = "/proto.Notifier/Configure";
const SHUTDOWN: &str = "/plugin.GRPCController/Shutdown";

async fn unary<M>(channel: &Channel, path: &'static str, msg: M) -> Result<(), tonic::Status>
where
    M: prost::Message + Send + Sync + 'static,
{
    let mut grpc = Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec: ProstCodec<M, Empty> = ProstCodec::default();
    grpc.unary(
        tonic::Request::new(msg),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(|_| ())
}

/// `Notifier.Configure`.
pub(crate) async fn configure(channel: &Channel, config: Vec<u8>) -> Result<(), tonic::Status> {
    unary(channel, CONFIGURE, Config { config }).await
}

/// `Notifier.Notify`.
pub(crate) async fn notify(channel: &Channel, name: &str, text: &str) -> Result<(), tonic::Status> {
    let msg = Notification {
        text: text.to_owned(),
        name: name.to_owned(),
    };
    unary(channel, NOTIFY, msg).await
}

/// go-plugin's `GRPCController.Shutdown`: asks the plugin to exit.
pub(crate) async fn shutdown(channel: &Channel) -> Result<(), tonic::Status> {
    unary(channel, SHUTDOWN, Empty {}).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn wire_encoding_matches_notifier_proto() {
        let n = Notification {
            text: "hi".into(),
            name: "n".into(),
        };
        assert_eq!(n.encode_to_vec(), b"\x0a\x02hi\x12\x01n");
        let c = Config {
            config: b"type: http".to_vec(),
        };
        assert_eq!(c.encode_to_vec(), b"\x12\x0atype: http");
        assert!(Empty {}.encode_to_vec().is_empty());
    }
}
