use super::*;

/// A directory of profile files removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gateway-aws-credentials-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(".aws").join(name), text).unwrap();
    }

    fn home(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn debug_hides_secrets() {
    let creds = Credentials::new("AKIDEXAMPLE", "s3cr3t").with_session_token("t0k3n");
    let shown = format!("{creds:?}");
    assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
        "{shown}"
    );
    assert!(!format!("{:?}", Environment::from_pairs([("A", "s3cr3t")])).contains("s3cr3t"));
}

#[test]
fn environment_variables_come_first() {
    let dir = Dir::new("env-first");
    dir.write(
        "credentials",
        "[default]\naws_access_key_id=FILE\naws_secret_access_key=F\n",
    );
    let env = Environment::from_pairs([
        ("HOME", dir.home()),
        ("AWS_ACCESS_KEY_ID", "ENVKEY".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "envsecret".to_owned()),
        ("AWS_SESSION_TOKEN", "envtoken".to_owned()),
    ]);
    let creds = env.credentials().unwrap();
    assert_eq!(
        creds,
        Credentials::new("ENVKEY", "envsecret").with_session_token("envtoken")
    );
    let half = Environment::from_pairs([("AWS_ACCESS_KEY_ID", "K"), ("HOME", "/nowhere")]);
    assert_eq!(
        half.credentials().unwrap_err(),
        CredentialsError::IncompleteEnvironment {
            present: "AWS_ACCESS_KEY_ID",
            missing: "AWS_SECRET_ACCESS_KEY"
        }
    );
    // Blank variables count as unset.
    let blank = Environment::from_pairs([
        ("AWS_ACCESS_KEY_ID", " "),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("HOME", dir.home().as_str()),
    ]);
    assert_eq!(blank.credentials().unwrap().access_key_id, "FILE");
}

#[test]
fn profiles_merge_both_files_and_tolerate_the_format() {
    let dir = Dir::new("merge");
    dir.write(
        "credentials",
        "# a comment\n\
         ; another\n\
         [default]\n\
         aws_access_key_id = DEFAULTKEY\n\
         aws_secret_access_key = defaultsecret\n\
         \n\
         [dev]  # trailing comment\r\n\
         \x20 AWS_Access_Key_ID=DEVKEY\r\n\
         aws_secret_access_key   =   dev/secret+x==\r\n",
    );
    dir.write(
        "config",
        "[default]\nregion = eu-west-1\n\
         [profile   dev]\n\
         region: ap-south-1\n\
         aws_access_key_id = CONFIGKEY\n\
         aws_session_token = devtoken\n\
         s3 =\n  max_concurrent_requests = 10\n\
         [dev]\naws_access_key_id = IGNORED\n",
    );
    let env = |profile: Option<&str>| {
        let mut pairs = vec![("HOME", dir.home())];
        if let Some(p) = profile {
            pairs.push(("AWS_PROFILE", p.to_owned()));
        }
        Environment::from_pairs(pairs)
    };
    assert_eq!(
        env(None).credentials().unwrap(),
        Credentials::new("DEFAULTKEY", "defaultsecret")
    );
    assert_eq!(env(None).region().unwrap().as_deref(), Some("eu-west-1"));
    // The credentials file's key wins over the config file's; the token and the
    // region come from the config file.
    assert_eq!(
        env(Some("dev")).credentials().unwrap(),
        Credentials::new("DEVKEY", "dev/secret+x==").with_session_token("devtoken")
    );
    assert_eq!(
        env(Some("dev")).region().unwrap().as_deref(),
        Some("ap-south-1")
    );
}

#[test]
fn region_prefers_the_environment() {
    let env = Environment::from_pairs([
        ("AWS_REGION", "us-west-2"),
        ("AWS_DEFAULT_REGION", "us-east-2"),
        ("HOME", "/nowhere"),
    ]);
    assert_eq!(env.region().unwrap().as_deref(), Some("us-west-2"));
    let env = Environment::from_pairs([("AWS_DEFAULT_REGION", "us-east-2"), ("HOME", "/x")]);
    assert_eq!(env.region().unwrap().as_deref(), Some("us-east-2"));
    let env = Environment::from_pairs([("HOME", "/nowhere")]);
    assert_eq!(env.region().unwrap(), None);
}

#[test]
fn file_locations_follow_the_variables() {
    let dir = Dir::new("locations");
    let creds = dir.0.join("elsewhere-credentials");
    let config = dir.0.join("elsewhere-config");
    std::fs::write(
        &creds,
        "[ci]\naws_access_key_id=CI\naws_secret_access_key=s\n",
    )
    .unwrap();
    std::fs::write(&config, "[profile ci]\nregion=sa-east-1\n").unwrap();
    let env = Environment::from_pairs([
        ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_PROFILE", "ci".to_owned()),
    ]);
    assert_eq!(env.credentials().unwrap().access_key_id, "CI");
    assert_eq!(env.region().unwrap().as_deref(), Some("sa-east-1"));
    // `~/` is expanded against HOME.
    dir.write(
        "credentials",
        "[ci]\naws_access_key_id=TILDE\naws_secret_access_key=s\n",
    );
    let env = Environment::from_pairs([
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "~/.aws/credentials".to_owned(),
        ),
        ("AWS_PROFILE", "ci".to_owned()),
        ("HOME", dir.home()),
    ]);
    assert_eq!(env.credentials().unwrap().access_key_id, "TILDE");
    let no_home = Environment::from_pairs([("AWS_PROFILE", "ci")]);
    assert!(matches!(
        no_home.credentials().unwrap_err(),
        CredentialsError::NoHome { .. }
    ));
}

#[test]
fn missing_and_incomplete_profiles_are_named() {
    let dir = Dir::new("errors");
    let env = |profile: &str| {
        Environment::from_pairs([("HOME", dir.home()), ("AWS_PROFILE", profile.to_owned())])
    };
    let err = env("prod").credentials().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, CredentialsError::ProfileNotFound { .. }));
    assert!(message.contains("`prod`"), "{message}");
    assert!(message.contains(".aws/credentials") && message.contains(".aws/config"));

    dir.write("credentials", "[prod]\naws_access_key_id = K\n");
    let err = env("prod").credentials().unwrap_err();
    assert!(
        matches!(&err, CredentialsError::IncompleteProfile { missing: "aws_secret_access_key", files, .. } if files.ends_with("credentials")),
        "{err:?}"
    );
    dir.write(
        "config",
        "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = prod\n",
    );
    let message = env("role").credentials().unwrap_err().to_string();
    assert!(message.contains("`role`"), "{message}");
    assert!(message.contains("role assumption"), "{message}");
    assert!(message.contains(".aws/config"), "{message}");
}

#[test]
fn fixed_and_environment_providers() {
    let fixed = CredentialsProvider::fixed(Credentials::new("A", "B"));
    assert_eq!(fixed.credentials().unwrap().access_key_id, "A");
    let provider = CredentialsProvider::from_environment(Environment::from_pairs([
        ("AWS_ACCESS_KEY_ID", "E"),
        ("AWS_SECRET_ACCESS_KEY", "S"),
    ]));
    assert_eq!(provider.credentials().unwrap().secret_access_key, "S");
    let empty =
        CredentialsProvider::from_environment(Environment::from_pairs([("HOME", "/nowhere")]));
    assert!(empty.credentials().is_err());
}

#[test]
fn ini_parsing_skips_what_it_does_not_understand() {
    let sections =
        parse_ini("orphan = 1\n[a]\nnot a property\nk = v = w\n  continued\n[ b ]\nK2:v2\n");
    assert_eq!(
        sections,
        vec![
            (
                "a".to_owned(),
                vec![("k".to_owned(), "v = w\ncontinued".to_owned())]
            ),
            ("b".to_owned(), vec![("k2".to_owned(), "v2".to_owned())]),
        ]
    );
}
