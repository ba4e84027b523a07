//! `tallyman check`: compile every pipeline and schema, print every problem at once.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

pub fn run(home: &Path) -> Result<ExitCode> {
    let home = super::home(home);
    match super::load_pipelines(&home) {
        Ok(pipelines) => {
            for (id, p) in &pipelines {
                println!(
                    "ok  {id}: {} (source {}, schema {})",
                    p.description,
                    super::super::cli::run::shown(&home, &p.source.folder),
                    p.schema.name
                );
            }
            println!("{} pipeline(s) valid", pipelines.len());
            if let Ok(m) = tallyman::config::load_mail(&home) {
                match &m.smtp {
                    Some(s) => println!("mail: SMTP {}:{} from {}", s.host, s.port, m.from),
                    None => println!(
                        "mail: no smtp_host; reports are spooled as .eml files in {}",
                        super::run::shown(&home, &m.spool_dir)
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
