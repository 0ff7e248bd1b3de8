// SPDX-License-Identifier: MIT
// Unit tests of lib/config/ini: gafferd.ini → DaemonConfig. Table-driven over the fixture
// files in tests/fixtures/config (good/: checked field by field; bad/: each names the
// error it must produce, "<file>:<line>: <what>", on its first line), plus inline texts.
#include "lib/config/ini.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#ifndef GAFFER_CONFIG_FIXTURE_DIR
#error "GAFFER_CONFIG_FIXTURE_DIR must name tests/fixtures/config"
#endif

namespace gaffer::config {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

std::string fixture(const std::string& rel) {
    return std::string(GAFFER_CONFIG_FIXTURE_DIR) + "/" + rel;
}

Result<DaemonConfig> parse(std::string_view text) {
    return parse_ini(text, "test.ini", "/nonexistent-gaffer-dir");
}

// The job named `qualified`; a test failure (and an empty spec) when there is none.
const model::JobSpec& find_job(const DaemonConfig& cfg, const std::string& qualified) {
    for (const auto& j : cfg.jobs)
        if (j.name.qualified() == qualified)
            return j;
    ADD_FAILURE() << "no job " << qualified;
    static const model::JobSpec kMissing;
    return kMissing;
}

Strings job_names(const DaemonConfig& cfg) {
    Strings out;
    for (const auto& j : cfg.jobs) out.push_back(j.name.qualified());
    return out;
}

bool has_warning(const DaemonConfig& cfg, const std::string& piece) {
    return std::any_of(cfg.warnings.begin(), cfg.warnings.end(),
                       [&](const std::string& w) { return w.find(piece) != std::string::npos; });
}

// Parses `text` and returns the error context (fails the test if it parsed).
std::string parse_error(std::string_view text) {
    auto cfg = parse(text);
    EXPECT_FALSE(cfg) << text;
    if (cfg)
        return {};
    EXPECT_EQ(cfg.error().code, EINVAL);
    return cfg.error().context;
}

// A scratch directory removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "gaffer-ini-test-XXXXXX").string();
        char* p = mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string write(const std::string& rel, const std::string& text) const {
        fs::path p = fs::path(path_) / rel;
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

private:
    std::string path_;
};

// ---------------------------------------------------------------------------------------
// Good fixtures

struct GoodFixture {
    const char* file;
    std::function<void(const DaemonConfig&)> check;
};

std::ostream& operator<<(std::ostream& os, const GoodFixture& f) {
    return os << f.file;
}

void check_full_job(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), Strings{"myapp.worker"});
    const model::JobSpec& j = cfg.jobs[0];
    EXPECT_EQ(j.cmd, "/usr/bin/worker --fast");
    EXPECT_EQ(j.args, (Strings{"-v", "two words"}));
    EXPECT_EQ(j.cwd, "/srv/app");
    EXPECT_EQ(j.uid, std::optional<uid_t>(0));
    EXPECT_EQ(j.gid, std::optional<gid_t>(0));
    EXPECT_TRUE(j.detach);
    EXPECT_FALSE(j.shell);
    EXPECT_FALSE(j.os_env);
    EXPECT_EQ(j.numprocesses, 3);
    EXPECT_FALSE(j.start);
    ASSERT_TRUE(j.flapping.has_value());
    EXPECT_EQ(*j.flapping, (model::Flapping{3, 1.5, 4.0, 6}));
    EXPECT_EQ(j.redirect_output, (Strings{"out", "err"}));
    EXPECT_TRUE(j.redirect_input);
    EXPECT_DOUBLE_EQ(j.graceful_timeout, 2.5);
    EXPECT_EQ(j.priority, 7);
    EXPECT_EQ(j.stdout_file, "/var/log/worker.out");
    EXPECT_EQ(j.stderr_file, "/var/log/worker.err");
    EXPECT_EQ(j.log_dir, "/var/log/worker");
    EXPECT_EQ(j.log_max_bytes, 1048576u);
    EXPECT_EQ(j.log_backups, 2);
    EXPECT_EQ(j.memory_max, std::optional<uint64_t>(256ull << 20));
    EXPECT_EQ(j.cpu_max, std::optional<double>(150));
    EXPECT_EQ(j.pids_max, std::optional<uint64_t>(64));
    EXPECT_TRUE(j.notify);
    EXPECT_EQ(j.ready_timeout, std::optional<double>(30));
    EXPECT_TRUE(j.critical);
    EXPECT_EQ(j.capabilities, (Strings{"CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"}));
    EXPECT_TRUE(j.no_new_privs);
    EXPECT_EQ(j.custom_streams, (Strings{"ctl", "data"}));
    EXPECT_EQ(j.env, (model::Env{{"PORT", "8080"}, {"Mixed_Case", "kept as written"}}));
    // Typed members in file order, `start` left out, env where its first option was.
    EXPECT_EQ(j.config_json,
              R"({"name":"worker","cmd":"/usr/bin/worker --fast","args":"-v 'two words'","cwd":"/srv/app",)"
              R"("uid":0,"gid":"root","detach":true,"shell":false,"os_env":false,"numprocesses":3,)"
              R"("flapping":{"attempts":3,"window":1.5,"retry_in":4,"max_retry":6},)"
              R"("redirect_output":["out","err"],"redirect_input":true,"graceful_timeout":2.5,"priority":7,)"
              R"("stdout_file":"/var/log/worker.out","stderr_file":"/var/log/worker.err",)"
              R"("log_dir":"/var/log/worker","log_max_bytes":1048576,"log_backups":2,"memory_max":"256M",)"
              R"("cpu_max":150,"pids_max":64,"notify":true,"ready_timeout":30,"critical":true,)"
              R"("capabilities":["CAP_NET_BIND_SERVICE","cap_sys_nice"],"no_new_privs":true,)"
              R"("custom_streams":["ctl","data"],"env":{"PORT":"8080","Mixed_Case":"kept as written"}})");
    EXPECT_TRUE(cfg.warnings.empty()) << cfg.warnings[0];
}

void check_defaults(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), Strings{"default.plain"});
    const model::JobSpec& j = cfg.jobs[0];
    EXPECT_TRUE(j.os_env);  // the INI default (§7.1)
    EXPECT_TRUE(j.start);
    EXPECT_EQ(j.numprocesses, 1);
    EXPECT_EQ(j.priority, INT_MAX);
    EXPECT_DOUBLE_EQ(j.graceful_timeout, 10.0);
    EXPECT_FALSE(j.flapping.has_value());
    EXPECT_TRUE(j.env.empty());
    EXPECT_EQ(j.config_json, R"({"name":"plain","cmd":"sleep 100","os_env":true})");
    EXPECT_TRUE(cfg.binds.empty());
    EXPECT_FALSE(cfg.backlog.has_value());
    EXPECT_FALSE(cfg.require_key.has_value());
}

void check_flapping(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), (Strings{"default.spaces", "default.commas", "default.mixed", "default.one"}));
    EXPECT_EQ(*cfg.jobs[0].flapping, (model::Flapping{2, 1.0, 7.0, 5}));
    EXPECT_EQ(*cfg.jobs[1].flapping, (model::Flapping{3, 2.5, 10.0, 8}));
    EXPECT_EQ(*cfg.jobs[2].flapping, (model::Flapping{4, 5.0, 6.0, 7}));
    model::Flapping one;
    one.attempts = 9;
    EXPECT_EQ(*cfg.jobs[3].flapping, one);
    // Echoed as an object (§7.5: the original could not serialize INI flapping).
    EXPECT_NE(cfg.jobs[0].config_json.find(R"("flapping":{"attempts":2,"window":1.0,"retry_in":7.0,"max_retry":5})"),
              std::string::npos)
        << cfg.jobs[0].config_json;
}

void check_section_names(const DaemonConfig& cfg) {
    EXPECT_EQ(job_names(cfg), (Strings{"default.alone", "default.proc_alone", "s1.colon", "s2.slash", "s3.dot",
                                       "s4.upper_prefix", "S5.CaseKept"}));
    EXPECT_TRUE(has_warning(cfg, "section_names.ini:23: [job:nocmd] has no cmd; section ignored"));
    EXPECT_TRUE(has_warning(cfg, "section_names.ini:26: [job:emptycmd] has no cmd; section ignored"));
}

void check_env(const DaemonConfig& cfg) {
    EXPECT_EQ(job_names(cfg), (Strings{"default.inline", "s.replaced", "default.other", "default.after"}));
    EXPECT_EQ(find_job(cfg, "default.inline").env,
              (model::Env{{"FOO", "second FOO wins"}, {"bar", "lower case kept"}, {"WITH_EQ", "a=b=c"}}));
    // [env:s:replaced] comes before its job and replaces the inline variables.
    EXPECT_EQ(find_job(cfg, "s.replaced").env, (model::Env{{"LOWER", "from env section"}, {"MIXED", "2"}}));
    // Per-job env: nothing leaks between sections (§10.3 [BUG]).
    EXPECT_EQ(find_job(cfg, "default.other").env, (model::Env{{"ONLY", "other"}}));
    EXPECT_EQ(find_job(cfg, "default.after").env, (model::Env{{"X", "1"}}));
    EXPECT_TRUE(has_warning(cfg, "[env:nojob] matches no job"));
}

void check_gaffer(const DaemonConfig& cfg) {
    EXPECT_EQ(cfg.binds, (Strings{"127.0.0.1:5000", "unix:/run/gaffer/gafferd.sock"}));
    EXPECT_EQ(cfg.cors_origins, (Strings{"https://a.example", "https://b.example"}));
    EXPECT_EQ(cfg.backlog, std::optional<int>(256));
    EXPECT_EQ(cfg.daemonize, std::optional<bool>(false));
    EXPECT_EQ(cfg.require_key, std::optional<bool>(true));
    EXPECT_EQ(cfg.pidfile, "/run/gafferd.pid");
    EXPECT_EQ(cfg.error_log, "/var/log/gafferd.log");
    EXPECT_EQ(cfg.log_level, "debug");
    EXPECT_EQ(cfg.plugins_dir, "/usr/lib/gaffer/plugins");
    EXPECT_EQ(cfg.broadcast_address, "http://10.0.0.1:5000");
    EXPECT_EQ(cfg.state_dir, "/var/lib/gaffer");
    EXPECT_EQ(cfg.webhook_secret, "s3cret");
    EXPECT_EQ(cfg.lookupd_addresses, (Strings{"http://127.0.0.1:5010", "http://127.0.0.2:5010"}));
    EXPECT_EQ(cfg.certfile, "/etc/gaffer/server.crt");         // [ssl] wins
    EXPECT_EQ(cfg.keyfile, "/etc/gaffer/gaffer-section.key");  // not in [ssl]
    ASSERT_EQ(cfg.endpoints.size(), 2u);
    EXPECT_EQ(cfg.endpoints[0].name, "public");
    EXPECT_EQ(cfg.endpoints[0].binds, Strings{"0.0.0.0:5000"});
    EXPECT_EQ(cfg.endpoints[0].backlog, 64);
    EXPECT_EQ(cfg.endpoints[0].certfile, "/etc/gaffer/public.crt");
    EXPECT_EQ(cfg.endpoints[0].keyfile, "/etc/gaffer/public.key");
    EXPECT_EQ(cfg.endpoints[1].name, "private");
    EXPECT_EQ(cfg.endpoints[1].binds, (Strings{"unix:/run/gaffer/private.sock", "127.0.0.1:5001"}));
    EXPECT_EQ(cfg.endpoints[1].backlog, 128);
    using Hook = std::pair<std::string, std::string>;
    EXPECT_EQ(cfg.webhooks, (std::vector<Hook>{{"load", "http://hooks.example/load"},
                                               {"job.default.Web.exit", "http://hooks.example/web-exit"},
                                               {".", "http://hooks.example/all"}}));
    EXPECT_TRUE(cfg.jobs.empty());
    EXPECT_TRUE(cfg.warnings.empty());
}

void check_continuation(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), Strings{"default.long"});
    const model::JobSpec& j = cfg.jobs[0];
    EXPECT_EQ(j.cmd, "/usr/bin/python3 -m some.module\n--option=value\n--other");
    EXPECT_EQ(j.args, (Strings{"first", "second", "third", "after-blank"}));
    EXPECT_EQ(j.redirect_output, (Strings{"out", "err"}));
    EXPECT_EQ(j.env, (model::Env{{"LONG", "line one\nline two"}}));
}

void check_priority(const DaemonConfig& cfg) {
    EXPECT_EQ(job_names(cfg), (Strings{"default.neg", "default.p0", "default.p10", "default.p10b", "default.last"}));
}

void check_original_example(const DaemonConfig& cfg) {
    ASSERT_EQ(cfg.endpoints.size(), 1u);
    EXPECT_EQ(cfg.endpoints[0].binds, Strings{"127.0.0.1:5000"});
    EXPECT_TRUE(cfg.webhooks.empty());
    ASSERT_EQ(job_names(cfg), (Strings{"default.dummy", "default.echo"}));
    EXPECT_EQ(cfg.jobs[0].cmd, "./dummy.py");
    EXPECT_EQ(cfg.jobs[0].redirect_output, (Strings{"stdout", "stderr"}));
    EXPECT_EQ(cfg.jobs[0].env, (model::Env{{"TEST", "test"}}));
    EXPECT_FALSE(cfg.jobs[0].redirect_input);
    EXPECT_TRUE(cfg.jobs[1].redirect_input);
}

void check_bom_crlf(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), Strings{"default.bom"});
    EXPECT_EQ(cfg.jobs[0].cmd, "with bom and crlf");
    EXPECT_EQ(cfg.jobs[0].numprocesses, 2);
}

void check_unknown(const DaemonConfig& cfg) {
    ASSERT_EQ(job_names(cfg), Strings{"default.web"});
    EXPECT_EQ(cfg.jobs[0].config_json, R"({"name":"web","cmd":"a","numprocess":"3","os_env":true})");
    EXPECT_EQ(cfg.jobs[0].numprocesses, 1);
    EXPECT_TRUE(has_warning(cfg, "unknown.ini:10: unknown option 'numprocess' in [job:web]"));
    EXPECT_TRUE(has_warning(cfg, "unknown.ini:11: option 'name' ignored"));
    EXPECT_EQ(cfg.warnings.size(), 2u);
}

void check_include(const DaemonConfig& cfg) {
    // main.ini first, then its includes in order: extra.ini (its include of main.ini is a
    // cycle and skipped), parts/*.ini sorted, then conf.d/ searched recursively, sorted.
    EXPECT_EQ(job_names(cfg), (Strings{"default.main", "default.extra", "default.part_a", "default.part_b",
                                       "default.conf_y", "default.conf_x"}));
    EXPECT_EQ(find_job(cfg, "default.main").numprocesses, 5);  // extra.ini overrides
    EXPECT_EQ(cfg.binds, Strings{"127.0.0.1:6000"});
    EXPECT_EQ(find_job(cfg, "default.conf_x").env, (model::Env{{"FOO", "from sub"}}));
    EXPECT_EQ(cfg.path, fixture("include/main.ini"));
}

const GoodFixture kGoodFixtures[] = {
    {"good/full_job.ini", check_full_job},
    {"good/defaults.ini", check_defaults},
    {"good/flapping.ini", check_flapping},
    {"good/section_names.ini", check_section_names},
    {"good/env.ini", check_env},
    {"good/gaffer.ini", check_gaffer},
    {"good/continuation.ini", check_continuation},
    {"good/priority.ini", check_priority},
    {"good/original_example.ini", check_original_example},
    {"good/bom_crlf.ini", check_bom_crlf},
    {"good/unknown.ini", check_unknown},
    {"include/main.ini", check_include},
};

class IniGoodFixture : public ::testing::TestWithParam<GoodFixture> {};

TEST_P(IniGoodFixture, Loads) {
    auto cfg = load_ini_file(fixture(GetParam().file));
    ASSERT_TRUE(cfg) << cfg.error().message();
    GetParam().check(*cfg);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, IniGoodFixture, ::testing::ValuesIn(kGoodFixtures));

// Every good fixture is in the table above.
TEST(IniFixtures, EveryGoodFixtureIsChecked) {
    for (const auto& e : fs::directory_iterator(fixture("good"))) {
        std::string rel = "good/" + e.path().filename().string();
        bool listed = std::any_of(std::begin(kGoodFixtures), std::end(kGoodFixtures),
                                  [&](const GoodFixture& f) { return rel == f.file; });
        EXPECT_TRUE(listed) << rel << " has no check in kGoodFixtures";
    }
}

// ---------------------------------------------------------------------------------------
// Bad fixtures: the first line is "; expect-error: <piece of the message>".

Strings bad_fixtures() {
    Strings out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fixture("bad"), ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

class IniBadFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(IniBadFixture, FailsWithFileAndLine) {
    std::string path = fixture("bad/" + GetParam());
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    const std::string marker = "; expect-error: ";
    ASSERT_EQ(first.rfind(marker, 0), 0u) << path << " must start with '" << marker << "'";
    std::string want = first.substr(marker.size());
    auto cfg = load_ini_file(path);
    ASSERT_FALSE(cfg) << path << " loaded";
    EXPECT_EQ(cfg.error().code, EINVAL);
    EXPECT_EQ(cfg.error().context.rfind(path + ":", 0), 0u) << "names the file: " << cfg.error().context;
    EXPECT_NE(cfg.error().context.find(want), std::string::npos)
        << "error: " << cfg.error().context << "\nwanted: " << want;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, IniBadFixture, ::testing::ValuesIn(bad_fixtures()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                             std::string n = p.param;
                             for (auto& c : n)
                                 if (!isalnum(static_cast<unsigned char>(c)))
                                     c = '_';
                             return n;
                         });

TEST(IniFixtures, ThereAreBadFixtures) {
    EXPECT_GE(bad_fixtures().size(), 20u);
}

// ---------------------------------------------------------------------------------------
// Inline texts

TEST(Ini, LookupdRegistrationOptions) {
    auto cfg = parse(
        "[gaffer]\nlookupd_key = k1\nnode_name = node1\nlookupd_heartbeat = 0.5\n"
        "[lookup_ssl]\nca_certs = /etc/ca.pem\ncertfile = /etc/c.pem\nkeyfile = /etc/k.pem\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->lookupd_key, "k1");
    EXPECT_EQ(cfg->node_name, "node1");
    EXPECT_EQ(cfg->lookupd_heartbeat, std::optional<double>(0.5));
    EXPECT_EQ(cfg->lookup_cacert, "/etc/ca.pem");
    EXPECT_EQ(cfg->lookup_certfile, "/etc/c.pem");
    EXPECT_EQ(cfg->lookup_keyfile, "/etc/k.pem");
    // [lookup_ssl] is not the server's [ssl].
    EXPECT_EQ(cfg->certfile, "");
    cfg = parse("[lookup_ssl]\ncacert = /a.pem\n");
    ASSERT_TRUE(cfg);
    EXPECT_EQ(cfg->lookup_cacert, "/a.pem");
    for (const char* bad :
         {"lookupd_heartbeat = 0", "lookupd_heartbeat = soon", "lookupd_heartbeat = 100000", "node_name ="}) {
        auto r = parse(std::string("[gaffer]\n") + bad + "\n");
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().context.find("test.ini:2: "), std::string::npos) << r.error().context;
    }
}

TEST(Ini, LineLengthLimit) {
    std::string ok = "[job:a]\ncmd = " + std::string(193, 'x') + "\n";  // 199 bytes
    auto cfg = parse(ok);
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->jobs[0].cmd.size(), 193u);
    // One byte more: refused, never split into a second line (its tail holds "= y", which
    // libinih would otherwise read as an option of its own).
    std::string tail = std::string(194 - 3, 'x') + "ev = y";
    std::string err = parse_error("[job:a]\ncmd = " + tail + "\n");
    EXPECT_EQ(err, "test.ini:2: line longer than 199 bytes; continue long values on indented lines");
}

TEST(Ini, CrLfDoesNotCountTowardsTheLimit) {
    std::string line = "cmd = " + std::string(193, 'x');
    auto cfg = parse("[job:a]\r\n" + line + "\r\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
}

TEST(Ini, NulByteIsAnError) {
    std::string text = "[job:a]\ncmd = a\nargs = x";
    text.push_back('\0');
    text += "y\n";
    EXPECT_EQ(parse_error(text), "test.ini:3: NUL byte in line");
}

TEST(Ini, InvalidUtf8IsAnError) {
    EXPECT_NE(parse_error("[job:a]\ncmd = caf\xe9\n").find("test.ini:2: cmd: value is not valid UTF-8"),
              std::string::npos);
}

TEST(Ini, LongNamesAreNotTruncated) {
    // libinih keeps section and option names in 50-byte buffers; continuation lines of a
    // long option name and long section names must still land in the right place.
    std::string job(90, 'j');
    std::string var(70, 'V');
    auto cfg = parse("[job:sess:" + job + "]\ncmd = a\nenv:" + var + " = one\n  two\nnumprocesses = 2\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    ASSERT_EQ(cfg->jobs.size(), 1u);
    EXPECT_EQ(cfg->jobs[0].name.job, job);
    EXPECT_EQ(cfg->jobs[0].env, (model::Env{{var, "one\ntwo"}}));
    EXPECT_EQ(cfg->jobs[0].numprocesses, 2);
}

TEST(Ini, InlineComments) {
    auto cfg = parse(
        "[job:a]\n"
        "cmd = sh -c a;b\n"
        "args = x ; comment\n"
        "cwd = /srv # not a comment\n"
        "# whole-line comment\n"
        "; another\n"
        "  ; indented comment right after an option is not a continuation\n"
        "numprocesses = 2\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->jobs[0].cmd, "sh -c a;b");
    EXPECT_EQ(cfg->jobs[0].args, Strings{"x"});
    EXPECT_EQ(cfg->jobs[0].cwd, "/srv # not a comment");
    EXPECT_EQ(cfg->jobs[0].numprocesses, 2);
}

TEST(Ini, ColonDelimiterAndCaseInsensitiveNames) {
    auto cfg = parse("[GAFFER]\nBIND: 127.0.0.1:7000\n[Job:A]\nCMD: run\nNumProcesses: 4\nOS_ENV = No\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->binds, Strings{"127.0.0.1:7000"});
    ASSERT_EQ(job_names(*cfg), Strings{"default.A"});
    EXPECT_EQ(cfg->jobs[0].cmd, "run");
    EXPECT_EQ(cfg->jobs[0].numprocesses, 4);
    EXPECT_FALSE(cfg->jobs[0].os_env);
}

TEST(Ini, LastValueWinsAndRepeatedSectionsMerge) {
    auto cfg = parse(
        "[job:a]\ncmd = first\nnumprocesses = 2\n"
        "[job:b]\ncmd = b\n"
        "[job:a]\ncmd = second\nshell = true\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    ASSERT_EQ(job_names(*cfg), (Strings{"default.a", "default.b"}));
    EXPECT_EQ(cfg->jobs[0].cmd, "second");
    EXPECT_EQ(cfg->jobs[0].numprocesses, 2);
    EXPECT_TRUE(cfg->jobs[0].shell);
}

TEST(Ini, BooleanSpellings) {
    for (const char* t : {"true", "yes", "on", "1", "TRUE", "Yes"}) {
        auto cfg = parse(std::string("[job:a]\ncmd = x\nshell = ") + t + "\n");
        ASSERT_TRUE(cfg) << t;
        EXPECT_TRUE(cfg->jobs[0].shell) << t;
    }
    for (const char* t : {"false", "no", "off", "0", "OFF"}) {
        auto cfg = parse(std::string("[job:a]\ncmd = x\nshell = ") + t + "\n");
        ASSERT_TRUE(cfg) << t;
        EXPECT_FALSE(cfg->jobs[0].shell) << t;
    }
}

TEST(Ini, EnvSectionReplacesInlineEnvRegardlessOfOrder) {
    const char* job = "[job:s:web]\ncmd = x\nenv:INLINE = 1\n";
    const char* env = "[env:s.web]\nport = 80\n";
    for (bool env_first : {true, false}) {
        std::string text = env_first ? std::string(env) + job : std::string(job) + env;
        auto cfg = parse(text);
        ASSERT_TRUE(cfg) << cfg.error().message();
        EXPECT_EQ(cfg->jobs[0].env, (model::Env{{"PORT", "80"}})) << text;
    }
}

TEST(Ini, EnvSectionsAreMatchedByQualifiedName) {
    // [env:web] is default.web, not s.web.
    auto cfg = parse("[job:s:web]\ncmd = x\nenv:A = a\n[env:web]\nB = b\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->jobs[0].env, (model::Env{{"A", "a"}}));
    EXPECT_TRUE(has_warning(*cfg, "[env:web] matches no job"));
}

TEST(Ini, BadEnvValueInEnvSectionPointsThere) {
    std::string err = parse_error("[job:web]\ncmd = x\n[env:web]\nA = \xff\n");
    EXPECT_EQ(err.rfind("test.ini:4: env: value is not valid UTF-8", 0), 0u) << err;
}

TEST(Ini, ErrorsNameTheGivenFile) {
    auto cfg = parse_ini("[job:a]\ncmd = x\npriority = soon\n", "/etc/gaffer/gafferd.ini", "/etc/gaffer");
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().context, "/etc/gaffer/gafferd.ini:3: priority: 'soon' is not an integer");
    EXPECT_EQ(cfg.error().code, EINVAL);
}

TEST(Ini, InstanceEnvAndPtyOptions) {
    auto cfg = parse("[job:web]\ncmd = ./web\ninstance_env = true\npty = yes\nredirect_output = out\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    const model::JobSpec& j = find_job(*cfg, "default.web");
    EXPECT_TRUE(j.instance_env);
    EXPECT_TRUE(j.pty);
    EXPECT_EQ(j.config_json,
              R"({"name":"web","cmd":"./web","instance_env":true,"pty":true,"redirect_output":["out"],"os_env":true})");
    cfg = parse("[job:web]\ncmd = ./web\n");
    ASSERT_TRUE(cfg);
    EXPECT_FALSE(find_job(*cfg, "default.web").instance_env);
    EXPECT_FALSE(find_job(*cfg, "default.web").pty);
    EXPECT_EQ(parse_error("[job:web]\ncmd = ./web\n\npty = true\n").rfind("test.ini:4: pty: needs redirect_output", 0),
              0u);
    EXPECT_EQ(parse_error("[job:web]\ncmd = ./web\n\ninstance_env = 3\n")
                  .rfind("test.ini:4: instance_env: '3' is not a boolean", 0),
              0u);
}

TEST(Ini, TypeErrorsPointAtTheirLine) {
    struct Case {
        const char* option;
        const char* want;
    } cases[] = {
        {"numprocesses = 1.5", "test.ini:4: numprocesses: '1.5' is not an integer"},
        {"numprocesses = 2000000", "test.ini:4: numprocesses: must be an integer from 0 to 1000000"},
        {"graceful_timeout = -3", "test.ini:4: graceful_timeout: must be a number >= 0"},
        {"detach = 2", "test.ini:4: detach: '2' is not a boolean"},
        {"uid = -5", "test.ini:4: uid: must be an id from 0"},
        {"uid = gaffer-no-such-user-x9", "test.ini:4: uid: unknown user 'gaffer-no-such-user-x9'"},
        {"log_max_bytes = 0", "test.ini:4: log_max_bytes: must be an integer >= 1"},
        {"cpu_max = fast", "test.ini:4: cpu_max: 'fast' is not a number"},
        {"pids_max = 1e3", "test.ini:4: pids_max: '1e3' is not an integer"},
        {"ready_timeout = 0", "test.ini:4: ready_timeout: must be a number > 0"},
        {"watchdog_sec = 3", "test.ini:4: watchdog_sec: needs notify = true"},
        {"flapping =", "test.ini:4: flapping: expected 1 to 4 values"},
        {"flapping = 2 x", "test.ini:4: flapping: window 'x' is not a number"},
        {"flapping = 2 1 7 5.5", "test.ini:4: flapping: max_retry '5.5' is not an integer"},
        {"custom_streams = a a", "test.ini:4: custom_streams: label 'a' given twice"},
        {"redirect_output = a/b", "test.ini:4: redirect_output: labels must not contain '/'"},
        {"memory_max = -1", "test.ini:4: memory_max: must be a number of bytes"},
    };
    for (const auto& c : cases) {
        std::string err = parse_error(std::string("[job:a]\ncmd = x\n\n") + c.option + "\nshell = false\n");
        EXPECT_EQ(err.rfind(c.want, 0), 0u) << c.option << "\n  got:  " << err << "\n  want: " << c.want;
    }
}

TEST(Ini, UnknownGafferOptionsAreIgnoredButKnownOnesAreChecked) {
    auto cfg = parse("[gaffer]\nfuture_thing = 42\nbackmarker = x\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_TRUE(cfg->warnings.empty());
    EXPECT_EQ(parse_error("[gaffer]\nfuture_thing = 42\nrequire_key = perhaps\n"),
              "test.ini:3: require_key: 'perhaps' is not a boolean (true/false, yes/no, on/off, 1/0)");
    EXPECT_EQ(parse_error("[gaffer]\nbacklog = 0\n"), "test.ini:2: backlog: '0' is not a positive integer");
    EXPECT_EQ(parse_error("[gaffer]\nmax_connections_per_client = -1\n"),
              "test.ini:2: max_connections_per_client: '-1' is not a positive integer");
}

TEST(Ini, MaxConnectionsPerClient) {
    auto cfg = parse("[gaffer]\nmax_connections_per_client = 512\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->max_connections_per_client, std::optional<int>(512));
    auto unset = parse("[gaffer]\n");
    ASSERT_TRUE(unset) << unset.error().message();
    EXPECT_FALSE(unset->max_connections_per_client.has_value());
}

TEST(Ini, JobLimits) {
    auto cfg = parse("[gaffer]\nmax_jobs = 100\nmax_config_bytes = 16M\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->max_jobs, std::optional<uint64_t>(100));
    EXPECT_EQ(cfg->max_config_bytes, std::optional<uint64_t>(16u << 20));
    cfg = parse("[gaffer]\nmax_config_bytes = 65536\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_FALSE(cfg->max_jobs.has_value());
    EXPECT_EQ(cfg->max_config_bytes, std::optional<uint64_t>(65536));
    EXPECT_EQ(parse_error("[gaffer]\nmax_jobs = 0\n"), "test.ini:2: max_jobs: '0' is not a positive integer");
    EXPECT_EQ(parse_error("[gaffer]\nmax_config_bytes = lots\n"),
              "test.ini:2: max_config_bytes: 'lots' is not a size (bytes, or with a K, M, G or T suffix)");
}

TEST(Ini, LogRootIsAnAbsoluteDirectory) {
    auto cfg = parse("[gaffer]\nlog_root = /var/log/gaffer/jobs//\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->log_root, "/var/log/gaffer/jobs");
    EXPECT_EQ(parse_error("[gaffer]\nlog_root = logs\n"), "test.ini:2: log_root: 'logs' is not an absolute path");
    EXPECT_EQ(parse_error("[gaffer]\nlog_root =\n"), "test.ini:2: log_root: '' is not an absolute path");
}

TEST(Ini, StartIsLoadTimeOnly) {
    auto cfg = parse("[job:a]\ncmd = x\nstart = false\n");
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_FALSE(cfg->jobs[0].start);
    EXPECT_EQ(cfg->jobs[0].config_json.find("start"), std::string::npos) << cfg->jobs[0].config_json;
}

TEST(Ini, SameTextGivesSameConfig) {
    // SIGHUP compares JobSpec::same_config of two loads.
    const char* text = "[job:a]\ncmd = x\nflapping = 2, 1., 7., 5\nenv:A = 1\nuid = root\n";
    auto a = parse(text);
    auto b = parse(text);
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->jobs[0].same_config(b->jobs[0]));
    auto c = parse("[job:a]\ncmd = x\nflapping = 2, 1., 7., 6\nenv:A = 1\nuid = root\n");
    ASSERT_TRUE(c);
    EXPECT_FALSE(a->jobs[0].same_config(c->jobs[0]));
}

TEST(Ini, EmptyAndCommentOnlyTexts) {
    for (const char* text : {"", "\n\n", "; just a comment\n", "[gaffer]\n", "[job:a]\n"}) {
        auto cfg = parse(text);
        ASSERT_TRUE(cfg) << text << ": " << cfg.error().message();
        EXPECT_TRUE(cfg->jobs.empty());
    }
}

// ---------------------------------------------------------------------------------------
// Files and includes

TEST(IniFiles, MissingFileIsASystemError) {
    auto cfg = load_ini_file("/nonexistent-gaffer-dir/gafferd.ini");
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code, ENOENT);
    auto dir = load_ini_file(fixture("good"));
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().code, EISDIR);
}

TEST(IniFiles, IncludesCanBeSwitchedOff) {
    IniOptions opts;
    opts.follow_includes = false;
    auto cfg = parse_ini("[gaffer]\ninclude = /nonexistent/x.ini\ninclude_dir = /nonexistent\n[job:a]\ncmd = x\n",
                         "t.ini", "/", opts);
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(cfg->jobs.size(), 1u);
}

TEST(IniFiles, SelfIncludeThroughAGlobIsSkipped) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude = *.ini\n[job:a]\ncmd = x\n");
    dir.write("b.ini", "[job:b]\ncmd = y\n");
    auto cfg = load_ini_file(main);
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(job_names(*cfg), (Strings{"default.a", "default.b"}));
}

TEST(IniFiles, IncludePathsAreRelativeToTheIncludingFile) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude = sub/one.ini\n");
    dir.write("sub/one.ini", "[gaffer]\ninclude = two.ini\n[job:one]\ncmd = x\n");
    dir.write("sub/two.ini", "[job:two]\ncmd = y\n");
    auto cfg = load_ini_file(main);
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(job_names(*cfg), (Strings{"default.one", "default.two"}));
    // parse_ini resolves against the base directory it is given.
    auto text = parse_ini("[gaffer]\ninclude = sub/one.ini\n", "inline.ini", dir.path());
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(text->jobs.size(), 2u);
}

TEST(IniFiles, ErrorsInIncludedFilesNameThatFile) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude = bad.ini\n");
    std::string bad = dir.write("bad.ini", "[job:a]\ncmd = x\n\nnumprocesses = lots\n");
    auto cfg = load_ini_file(main);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().context, bad + ":4: numprocesses: 'lots' is not an integer");
}

TEST(IniFiles, DeepIncludeChainsStop) {
    TempDir dir;
    for (int i = 0; i < 30; ++i)
        dir.write("f" + std::to_string(i) + ".ini", "[gaffer]\ninclude = f" + std::to_string(i + 1) + ".ini\n");
    dir.write("f30.ini", "[job:end]\ncmd = x\n");
    auto cfg = load_ini_file(dir.path() + "/f0.ini");
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().context.find("includes nested more than 16 deep"), std::string::npos) << cfg.error().context;
}

TEST(IniFiles, OnlyRegularFilesAreIncluded) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude = /dev/null\n");
    auto cfg = load_ini_file(main);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().context, main + ":2: include '/dev/null' is not a regular file");
    dir.write("d/x.ini", "");
    std::string main2 = dir.write("g.ini", "[gaffer]\ninclude = d\n");
    auto cfg2 = load_ini_file(main2);
    ASSERT_FALSE(cfg2);
    EXPECT_NE(cfg2.error().context.find("is not a regular file"), std::string::npos);
}

TEST(IniFiles, IncludeDirMustExist) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude_dir = conf.d\n");
    auto cfg = load_ini_file(main);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().context,
              main + ":2: include_dir 'conf.d' is not a directory (looked for '" + dir.path() + "/conf.d')");
}

TEST(IniFiles, DuplicateJobAcrossFiles) {
    TempDir dir;
    std::string main = dir.write("gafferd.ini", "[gaffer]\ninclude = b.ini\n[job:web]\ncmd = x\n");
    std::string b = dir.write("b.ini", "\n[process:default.web]\ncmd = y\n");
    auto cfg = load_ini_file(main);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().context, b + ":2: job 'default.web' is defined twice (first at " + main + ":3)");
}

}  // namespace
}  // namespace gaffer::config
