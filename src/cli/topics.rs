//! `pipit topics`: Kafka's kafka-topics.sh over the wire (create, list, describe, alter, delete).
//!
//! Output follows Kafka 3.x's TopicCommand: `Created topic t.` on create, one name
//! per line on list, and for describe one summary line
//! (`Topic: t\tTopicId: …\tPartitionCount: n\tReplicationFactor: r\tConfigs: k=v,…`,
//! non-default configs only) then one line per partition
//! (`\tTopic: t\tPartition: p\tLeader: l\tReplicas: a,b\tIsr: a,b`). Failures print
//! `Error while executing topic command : …` and exit 1.

use std::ffi::OsString;

use super::args::{EXIT_FAILURE, Flag, Flags, client_config, usage_error};
use crate::client::admin::{Admin, ConfigChange, NewTopic};
use crate::client::cluster::{TopicMeta, topic_id_string};
use crate::client::conn::ClientError;

pub const USAGE: &str = "\
Usage: pipit topics --bootstrap-server HOST:PORT <action> [options]

Create, list, describe, alter or delete topics (Kafka's kafka-topics.sh).

Actions (exactly one):
  --create                 create --topic
  --list                   list topic names
  --describe               describe --topic (or all topics)
  --alter                  add partitions (--partitions N) or set configs (--config k=v)
  --delete                 delete --topic

Options:
  --bootstrap-server B     host:port[,host:port] of any broker (required)
  --command-config FILE    client properties file
  --topic T                the topic
  --partitions N           partition count (create; alter: the new, larger count)
  --replication-factor R   replicas per partition (create)
  --config k=v             topic config (create, alter), repeatable
  --delete-config k        remove a topic config (alter), repeatable
  --if-not-exists          create: succeed if the topic already exists
  --if-exists              alter/delete/describe: succeed if the topic does not exist
  --exclude-internal       list/describe: hide internal topics
  -h, --help               print this text

Examples:
  pipit topics --bootstrap-server 127.0.0.1:9092 --create --topic test --partitions 3 --replication-factor 1
  pipit topics --bootstrap-server 127.0.0.1:9092 --list
  pipit topics --bootstrap-server 127.0.0.1:9092 --describe --topic test
  pipit topics --bootstrap-server 127.0.0.1:9092 --alter --topic test --partitions 6
  pipit topics --bootstrap-server 127.0.0.1:9092 --alter --topic test --config retention.ms=60000
  pipit topics --bootstrap-server 127.0.0.1:9092 --delete --topic test
";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Create,
    List,
    Describe,
    Alter,
    Delete,
}

#[derive(Debug, Default)]
struct Opts {
    bootstrap: Option<String>,
    command_config: Vec<String>,
    action: Option<Action>,
    topic: Option<String>,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    configs: Vec<(String, String)>,
    delete_configs: Vec<String>,
    if_not_exists: bool,
    if_exists: bool,
    exclude_internal: bool,
}

fn parse(args: impl Iterator<Item = OsString>) -> Result<Option<Opts>, String> {
    let mut o = Opts::default();
    let mut f = Flags::new(args);
    let set = |o: &mut Opts, a: Action| -> Result<(), String> {
        if o.action.replace(a).is_some() {
            return Err(
                "give exactly one of --create, --list, --describe, --alter, --delete".into(),
            );
        }
        Ok(())
    };
    while let Some(flag) = f.next_flag()? {
        let Flag::Long(name) = flag else {
            return Err("unexpected argument".into());
        };
        match name.as_str() {
            "help" => return Ok(None),
            "bootstrap-server" => o.bootstrap = Some(f.value(&name)?),
            "command-config" => o.command_config.push(f.value(&name)?),
            "create" => set(&mut o, Action::Create)?,
            "list" => set(&mut o, Action::List)?,
            "describe" => set(&mut o, Action::Describe)?,
            "alter" => set(&mut o, Action::Alter)?,
            "delete" => set(&mut o, Action::Delete)?,
            "topic" => o.topic = Some(f.value(&name)?),
            "partitions" => o.partitions = Some(f.number(&name)?),
            "replication-factor" => o.replication_factor = Some(f.number(&name)?),
            "config" => o.configs.push(f.kv(&name)?),
            "delete-config" => o.delete_configs.push(f.value(&name)?),
            "if-not-exists" => o.if_not_exists = true,
            "if-exists" => o.if_exists = true,
            "exclude-internal" => o.exclude_internal = true,
            other => return Err(format!("unknown option --{other}")),
        }
    }
    if o.bootstrap.is_none() {
        return Err("--bootstrap-server is required".into());
    }
    match o.action {
        None => Err("give exactly one of --create, --list, --describe, --alter, --delete".into()),
        Some(Action::Create | Action::Alter | Action::Delete) if o.topic.is_none() => {
            Err("--topic is required for --create, --alter and --delete".into())
        }
        Some(Action::Create) if o.partitions.is_some_and(|p| p < 1) => {
            Err("--partitions must be at least 1".into())
        }
        _ => Ok(Some(o)),
    }
}

pub fn run(args: impl Iterator<Item = OsString>) -> i32 {
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return 0;
        }
        Err(e) => return usage_error("topics", &e),
    };
    match smol::block_on(execute(&opts)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error while executing topic command : {e}");
            EXIT_FAILURE
        }
    }
}

async fn execute(o: &Opts) -> Result<(), String> {
    let config = client_config(o.bootstrap.as_deref(), &o.command_config, &[])?;
    let mut admin = Admin::connect(&config).await.map_err(|e| e.to_string())?;
    let topic = o.topic.clone().unwrap_or_default();
    match o.action {
        Some(Action::Create) => {
            let new = NewTopic {
                name: topic.clone(),
                partitions: o.partitions.unwrap_or(-1),
                replication_factor: o.replication_factor.unwrap_or(-1),
                configs: o.configs.clone(),
            };
            let results = admin
                .create_topics(&[new], false)
                .await
                .map_err(|e| e.to_string())?;
            for (name, r) in results {
                match r {
                    Ok(()) => println!("Created topic {name}."),
                    Err(ClientError::Kafka { code: 36, .. }) if o.if_not_exists => {}
                    Err(ClientError::Kafka { code: 36, .. }) => {
                        return Err(format!("Topic '{name}' already exists."));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        Some(Action::List) => {
            let metas = admin
                .describe_topics(None)
                .await
                .map_err(|e| e.to_string())?;
            for t in metas
                .iter()
                .filter(|t| !(o.exclude_internal && t.is_internal))
            {
                println!("{}", t.name);
            }
        }
        Some(Action::Describe) => {
            let names = o.topic.as_ref().map(|t| vec![t.clone()]);
            let metas = match admin.describe_topics(names.as_deref()).await {
                Ok(m) => m,
                Err(ClientError::UnknownTopic(_)) if o.if_exists => return Ok(()),
                Err(ClientError::UnknownTopic(t)) => {
                    return Err(format!("Topic '{t}' does not exist as expected"));
                }
                Err(e) => return Err(e.to_string()),
            };
            for t in metas
                .iter()
                .filter(|t| !(o.exclude_internal && t.is_internal))
            {
                let configs = admin
                    .describe_topic_configs(&t.name)
                    .await
                    .map_err(|e| e.to_string())?;
                let configs: Vec<String> = configs
                    .iter()
                    .filter(|c| !c.is_default)
                    .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
                    .collect();
                print!("{}", describe(t, &configs.join(",")));
            }
        }
        Some(Action::Alter) => {
            if o.partitions.is_none() && o.configs.is_empty() && o.delete_configs.is_empty() {
                return Err("--alter needs --partitions, --config or --delete-config".into());
            }
            let r = alter(&mut admin, o, &topic).await;
            match r {
                Err(ClientError::UnknownTopic(_)) if o.if_exists => {}
                Err(ClientError::UnknownTopic(t)) => {
                    return Err(format!("Topic '{t}' does not exist as expected"));
                }
                Err(e) => return Err(e.to_string()),
                Ok(()) => {}
            }
        }
        Some(Action::Delete) => {
            let results = admin
                .delete_topics(std::slice::from_ref(&topic))
                .await
                .map_err(|e| e.to_string())?;
            for (name, r) in results {
                match r {
                    Ok(()) => {}
                    Err(ClientError::UnknownTopic(_)) if o.if_exists => {}
                    Err(ClientError::UnknownTopic(_)) => {
                        return Err(format!("Topic '{name}' does not exist as expected"));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        None => {}
    }
    Ok(())
}

async fn alter(admin: &mut Admin, o: &Opts, topic: &str) -> Result<(), ClientError> {
    if let Some(n) = o.partitions {
        admin.create_partitions(topic, n).await?;
    }
    let mut changes: Vec<ConfigChange> = o
        .configs
        .iter()
        .map(|(k, v)| ConfigChange::Set(k.clone(), v.clone()))
        .collect();
    changes.extend(
        o.delete_configs
            .iter()
            .map(|k| ConfigChange::Delete(k.clone())),
    );
    if !changes.is_empty() {
        admin.alter_topic_configs(topic, &changes).await?;
    }
    Ok(())
}

/// Kafka's describe layout for one topic.
fn describe(t: &TopicMeta, configs: &str) -> String {
    let mut out = format!("Topic: {}", t.name);
    if t.topic_id != [0; 16] {
        out.push_str(&format!("\tTopicId: {}", topic_id_string(&t.topic_id)));
    }
    let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
    out.push_str(&format!(
        "\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {configs}\n",
        t.partitions.len()
    ));
    let join = |v: &[i32]| {
        v.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for p in &t.partitions {
        let leader = if p.leader >= 0 {
            p.leader.to_string()
        } else {
            "none".into()
        };
        out.push_str(&format!(
            "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
            t.name,
            p.partition,
            join(&p.replicas),
            join(&p.isr)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::cluster::PartitionMeta;

    #[test]
    fn describe_matches_kafka_layout() {
        let t = TopicMeta {
            name: "t".into(),
            topic_id: [0; 16],
            error_code: 0,
            is_internal: false,
            partitions: vec![PartitionMeta {
                partition: 0,
                leader: 0,
                replicas: vec![0],
                isr: vec![0],
                error_code: 0,
            }],
        };
        assert_eq!(
            describe(&t, "compression.type=gzip"),
            "Topic: t\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: compression.type=gzip\n\
             \tTopic: t\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n"
        );
    }

    #[test]
    fn one_action_and_a_topic_are_required() {
        let a = |v: &[&str]| parse(v.iter().map(OsString::from).collect::<Vec<_>>().into_iter());
        assert!(a(&["--bootstrap-server", "x:1", "--create"]).is_err());
        assert!(
            a(&[
                "--bootstrap-server",
                "x:1",
                "--list",
                "--delete",
                "--topic",
                "t"
            ])
            .is_err()
        );
        assert!(a(&["--list"]).is_err());
        assert!(matches!(
            a(&["--bootstrap-server", "x:1", "--list"]),
            Ok(Some(_))
        ));
        assert!(matches!(a(&["--help"]), Ok(None)));
    }
}
