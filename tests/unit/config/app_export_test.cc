// SPDX-License-Identifier: MIT
// Unit tests of lib/config/app_export: each format on a 3-type plan (a shell command, a
// command with quotes and $VAR, a type with concurrency 2; an environment with blanks,
// quotes, %, $ and a secret), what each format refuses, and `gaffer env`'s lines.
#include "lib/config/app_export.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "lib/config/ini.h"
#include "lib/config/job_json.h"
#include "lib/json/json.h"
#include "lib/model/values.h"

namespace gaffer::config {
namespace {

constexpr const char* kProcfile =
    "web: /bin/sleep 1000 && echo done\n"
    "worker: /bin/echo 'hello world' \"$GREETING\" ${PORT} $UNSET\n"
    "clock: sleep 1000\n";

model::Env app_env() {
    return {{"SPACES", "a b  c"},     {"QUOTES", "say \"hi\" now"}, {"PCT", "100%"},          {"DOLLAR", "$x and ${y}"},
            {"API_SECRET", "s3cr3t"}, {"GREETING", "hi there"},     {"PATH", "/usr/bin:/bin"}};
}

AppPlan make_plan(model::Env env = app_env(), const char* procfile = kProcfile) {
    auto p = parse_procfile(procfile, "Procfile", true);
    EXPECT_TRUE(p) << p.error().message();
    AppPlanInputs in;
    in.session = "myapp";
    in.cwd = "/srv/myapp";
    in.env = std::move(env);
    if (p->find("clock"))
        in.concurrency = {"clock=2"};
    auto plan = plan_app(*p, in);
    EXPECT_TRUE(plan) << plan.error().message();
    return std::move(*plan);
}

ExportInputs inputs(const AppPlan& plan) {
    ExportInputs in;
    in.app = "myapp";
    in.root = "/srv/myapp";
    in.plan = &plan;
    return in;
}

std::vector<ExportFile> exported(ExportFormat f, const ExportInputs& in) {
    auto files = export_app(f, in);
    EXPECT_TRUE(files) << files.error().message();
    return files ? std::move(*files) : std::vector<ExportFile>{};
}

const ExportFile* find_file(const std::vector<ExportFile>& files, const std::string& name) {
    for (const auto& f : files)
        if (f.name == name)
            return &f;
    return nullptr;
}

void expect_same_job(const model::JobSpec& got, const model::JobSpec& want) {
    SCOPED_TRACE(want.name.qualified());
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.cmd, want.cmd);
    EXPECT_EQ(got.args, want.args);
    EXPECT_EQ(got.env, want.env);
    EXPECT_EQ(got.cwd, want.cwd);
    EXPECT_EQ(got.shell, want.shell);
    EXPECT_EQ(got.os_env, want.os_env);
    EXPECT_EQ(got.numprocesses, want.numprocesses);
    EXPECT_EQ(got.redirect_output, want.redirect_output);
    EXPECT_EQ(got.graceful_timeout, want.graceful_timeout);
}

std::string expect_refused(ExportFormat f, const ExportInputs& in) {
    auto r = export_app(f, in);
    EXPECT_FALSE(r);
    if (r)
        return "";
    EXPECT_EQ(r.error().code, EINVAL);
    return r.error().context;
}

TEST(AppExport, ParseFormat) {
    EXPECT_EQ(parse_export_format("ini"), ExportFormat::kIni);
    EXPECT_EQ(parse_export_format("json"), ExportFormat::kJson);
    EXPECT_EQ(parse_export_format("systemd"), ExportFormat::kSystemd);
    EXPECT_EQ(parse_export_format("supervisord"), ExportFormat::kSupervisord);
    EXPECT_FALSE(parse_export_format("upstart"));
    EXPECT_FALSE(parse_export_format("INI"));
}

TEST(AppExport, IniLoadsBackToTheSameJobs) {
    AppPlan plan = make_plan();
    ASSERT_TRUE(plan.jobs[0].shell);
    auto files = exported(ExportFormat::kIni, inputs(plan));
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].name, "myapp.ini");
    auto cfg = parse_ini(files[0].content, "myapp.ini", "/nonexistent", {.follow_includes = false});
    ASSERT_TRUE(cfg) << cfg.error().message() << "\n" << files[0].content;
    EXPECT_TRUE(cfg->warnings.empty()) << cfg->warnings[0];
    ASSERT_EQ(cfg->jobs.size(), 3u);
    for (size_t i = 0; i < 3; ++i) expect_same_job(cfg->jobs[i], plan.jobs[i]);
    EXPECT_EQ(cfg->jobs[2].numprocesses, 2);
    EXPECT_NE(files[0].content.find("env:PCT = 100%\n"), std::string::npos) << files[0].content;
    // The plan's jobs have instance_env (foreman's PORT/PS per instance): once per section.
    size_t count = 0;
    for (size_t at = 0; (at = files[0].content.find("instance_env = true\n", at)) != std::string::npos; ++at) ++count;
    EXPECT_EQ(count, 3u) << files[0].content;
    for (const auto& job : cfg->jobs) EXPECT_TRUE(job.instance_env);
}

TEST(AppExport, IniAndJsonCarryInstanceEnv) {
    AppPlan plan = make_plan();
    auto ini = exported(ExportFormat::kIni, inputs(plan));
    ASSERT_EQ(ini.size(), 1u);
    size_t clock = ini[0].content.find("[job:myapp.clock]");
    ASSERT_NE(clock, std::string::npos);
    EXPECT_GT(ini[0].content.rfind("instance_env = true"), clock);
    auto json = exported(ExportFormat::kJson, inputs(plan));
    ASSERT_EQ(json.size(), 1u);
    auto doc = json::parse(json[0].content);
    ASSERT_TRUE(doc);
    json_t* jobs = json_object_get(doc->get(), "jobs");
    ASSERT_EQ(json_array_size(jobs), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(json_is_true(json_object_get(json_array_get(jobs, i), "instance_env")));
}

TEST(AppExport, JsonElementsLoadAsTheSameJobs) {
    AppPlan plan = make_plan();
    auto files = exported(ExportFormat::kJson, inputs(plan));
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].name, "myapp.json");
    auto doc = json::parse(files[0].content);
    ASSERT_TRUE(doc) << doc.error().message();
    json_t* jobs = json_object_get(doc->get(), "jobs");
    ASSERT_EQ(json_array_size(jobs), 3u);
    for (size_t i = 0; i < 3; ++i) {
        auto spec = job_from_json(json_array_get(jobs, i), "myapp", JobJsonMode::kLoad);
        ASSERT_TRUE(spec) << spec.error().message();
        expect_same_job(*spec, plan.jobs[i]);
    }
    // One job alone is still a list.
    ExportInputs in = inputs(plan);
    in.only = {"worker"};
    files = exported(ExportFormat::kJson, in);
    doc = json::parse(files.at(0).content);
    ASSERT_TRUE(doc);
    jobs = json_object_get(doc->get(), "jobs");
    ASSERT_EQ(json_array_size(jobs), 1u);
    EXPECT_STREQ(json_string_value(json_object_get(json_array_get(jobs, 0), "name")), "worker");
}

TEST(AppExport, SystemdUnitsAsForeman) {
    AppPlan plan = make_plan();
    ExportInputs in = inputs(plan);
    in.user = "deploy";
    auto files = exported(ExportFormat::kSystemd, in);
    const ExportFile* target = find_file(files, "myapp.target");
    ASSERT_NE(target, nullptr);
    EXPECT_EQ(target->content,
              "[Unit]\nDescription=myapp\n"
              "Wants=myapp-web@5000.service\nWants=myapp-worker@5100.service\n"
              "Wants=myapp-clock@5200.service\nWants=myapp-clock@5201.service\n"
              "\n[Install]\nWantedBy=multi-user.target\n");
    const ExportFile* web = find_file(files, "myapp-web@.service");
    ASSERT_NE(web, nullptr);
    const std::string& w = web->content;
    EXPECT_NE(w.find("PartOf=myapp.target\n"), std::string::npos) << w;
    EXPECT_NE(w.find("User=deploy\n"), std::string::npos);
    EXPECT_NE(w.find("WorkingDirectory=/srv/myapp\n"), std::string::npos);
    EXPECT_NE(w.find("Environment=PORT=%i\n"), std::string::npos);
    EXPECT_NE(w.find("Environment=\"PCT=100%%\"\n"), std::string::npos) << w;
    EXPECT_NE(w.find("Environment=\"QUOTES=say \\\"hi\\\" now\"\n"), std::string::npos) << w;
    EXPECT_NE(w.find("Environment=\"DOLLAR=$x and ${y}\"\n"), std::string::npos) << w;
    EXPECT_NE(w.find("Environment=\"SPACES=a b  c\"\n"), std::string::npos) << w;
    EXPECT_EQ(w.find("Environment=\"PORT="), std::string::npos);
    EXPECT_EQ(w.find("Environment=\"PS="), std::string::npos);
    EXPECT_NE(w.find("ExecStart=/bin/sh -c \"/bin/sleep 1000 && echo done\"\n"), std::string::npos) << w;
    EXPECT_NE(w.find("KillMode=mixed\nTimeoutStopSec=10\n"), std::string::npos) << w;
    EXPECT_NE(w.find("Restart=always\n"), std::string::npos);
    EXPECT_NE(w.find("StandardOutput=journal\n"), std::string::npos);
    EXPECT_NE(w.find("SyslogIdentifier=myapp-web.%i\n"), std::string::npos);

    const ExportFile* worker = find_file(files, "myapp-worker@.service");
    ASSERT_NE(worker, nullptr);
    // Known names become systemd's ${NAME} (expanded inside the word), unknown ones stay
    // literal as gafferd leaves them.
    EXPECT_NE(worker->content.find("ExecStart=/bin/echo \"hello world\" ${GREETING} ${PORT} $$UNSET\n"),
              std::string::npos)
        << worker->content;
    const ExportFile* clock = find_file(files, "myapp-clock@.service");
    ASSERT_NE(clock, nullptr);
    // `sleep` is looked up in the job's PATH.
    EXPECT_NE(clock->content.find("ExecStart=/usr/bin/sleep 1000\n"), std::string::npos) << clock->content;
    const ExportFile* ps = find_file(files, "myapp-clock@5201.service.d/50-ps.conf");
    ASSERT_NE(ps, nullptr);
    EXPECT_EQ(ps->content, "[Service]\nEnvironment=PS=clock.2\n");
}

TEST(AppExport, SystemdShellCommandKeepsDollarAndPercentForTheShell) {
    AppPlan plan = make_plan(app_env(), "web: echo \"$HOME\" 50% `date` | cat\n");
    auto files = exported(ExportFormat::kSystemd, inputs(plan));
    const ExportFile* web = find_file(files, "myapp-web@.service");
    ASSERT_NE(web, nullptr);
    EXPECT_NE(web->content.find("ExecStart=/bin/sh -c \"echo \\\"$$HOME\\\" 50%% `date` | cat\"\n"), std::string::npos)
        << web->content;
}

TEST(AppExport, SupervisordProgramPerInstance) {
    AppPlan plan = make_plan();
    auto files = exported(ExportFormat::kSupervisord, inputs(plan));
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].name, "myapp.conf");
    const std::string& c = files[0].content;
    EXPECT_NE(c.find("[group:myapp]\nprograms=myapp-web-1,myapp-worker-1,myapp-clock-1,myapp-clock-2\n"),
              std::string::npos)
        << c;
    EXPECT_NE(c.find("[program:myapp-web-1]\ncommand=/bin/sh -c '/bin/sleep 1000 && echo done'\n"
                     "directory=/srv/myapp\n"),
              std::string::npos)
        << c;
    // gafferd's $VAR substitution is done here, with the instance's PORT.
    EXPECT_NE(c.find("[program:myapp-worker-1]\ncommand=/bin/echo 'hello world' 'hi there' 5100 '$UNSET'\n"),
              std::string::npos)
        << c;
    EXPECT_NE(c.find("[program:myapp-clock-2]\ncommand=/usr/bin/sleep 1000\n"), std::string::npos) << c;
    EXPECT_NE(c.find("environment=API_SECRET=\"s3cr3t\",DOLLAR=\"$x and ${y}\",GREETING=\"hi there\","
                     "PATH=\"/usr/bin:/bin\",PCT=\"100%%\",PORT=\"5201\",PS=\"clock.2\",QUOTES='say \"hi\" now',"
                     "SPACES=\"a b  c\"\n"),
              std::string::npos)
        << c;
    EXPECT_NE(c.find("autorestart=true\nstopasgroup=true\nkillasgroup=true\nstopwaitsecs=10\nredirect_stderr=false\n"),
              std::string::npos)
        << c;
}

TEST(AppExport, DisabledTypeHasNoInstances) {
    auto p = parse_procfile(kProcfile, "Procfile", true);
    ASSERT_TRUE(p);
    AppPlanInputs pin;
    pin.session = "myapp";
    pin.cwd = "/srv/myapp";
    pin.env = app_env();
    pin.concurrency = {"clock=0"};
    auto plan = plan_app(*p, pin);
    ASSERT_TRUE(plan) << plan.error().message();
    auto units = exported(ExportFormat::kSystemd, inputs(*plan));
    EXPECT_NE(find_file(units, "myapp-clock@.service"), nullptr);
    EXPECT_EQ(find_file(units, "myapp.target")->content.find("clock"), std::string::npos);
    auto conf = exported(ExportFormat::kSupervisord, inputs(*plan));
    EXPECT_EQ(conf.at(0).content.find("clock"), std::string::npos);
    auto ini = exported(ExportFormat::kIni, inputs(*plan));
    EXPECT_NE(ini.at(0).content.find("[job:myapp.clock]\ncmd = sleep\nargs = 1000\nnumprocesses = 0\n"),
              std::string::npos)
        << ini.at(0).content;
    ExportInputs in = inputs(*plan);
    in.only = {"clock"};
    EXPECT_NE(expect_refused(ExportFormat::kSupervisord, in).find("nothing to export"), std::string::npos);
}

TEST(AppExport, EachFormatRefusesWhatItCannotExpress) {
    {
        model::Env env = app_env();
        env["MULTI"] = "line1\nline2";
        AppPlan plan = make_plan(env);
        EXPECT_NE(expect_refused(ExportFormat::kSupervisord, inputs(plan)).find("MULTI"), std::string::npos);
        // INI continues it on an indented line, systemd escapes it, JSON carries it.
        auto ini = exported(ExportFormat::kIni, inputs(plan));
        auto cfg = parse_ini(ini.at(0).content, "x.ini", "/nonexistent", {.follow_includes = false});
        ASSERT_TRUE(cfg) << cfg.error().message();
        EXPECT_EQ(cfg->jobs.at(0).env.at("MULTI"), "line1\nline2");
        auto units = exported(ExportFormat::kSystemd, inputs(plan));
        EXPECT_NE(units.at(1).content.find("Environment=\"MULTI=line1\\nline2\"\n"), std::string::npos);
    }
    {
        model::Env env = app_env();
        env["BOTH"] = "it's \"q\" ok";
        AppPlan plan = make_plan(env);
        EXPECT_NE(expect_refused(ExportFormat::kSupervisord, inputs(plan)).find("both quote"), std::string::npos);
    }
    {
        model::Env env = app_env();
        env["LONG"] = std::string(300, 'x');
        env["BLANK"] = " lead";
        AppPlan plan = make_plan(env);
        std::string e = expect_refused(ExportFormat::kIni, inputs(plan));
        EXPECT_NE(e.find("env:BLANK"), std::string::npos) << e;
        env.erase("BLANK");
        plan = make_plan(env);
        e = expect_refused(ExportFormat::kIni, inputs(plan));
        EXPECT_NE(e.find("199 bytes"), std::string::npos) << e;
        env["LONG"] = "a ;comment";
        plan = make_plan(env);
        e = expect_refused(ExportFormat::kIni, inputs(plan));
        EXPECT_NE(e.find("comment"), std::string::npos) << e;
    }
    {
        model::Env env = app_env();
        env["my.var"] = "x";
        AppPlan plan = make_plan(env);
        std::string e = expect_refused(ExportFormat::kSystemd, inputs(plan));
        EXPECT_NE(e.find("'my.var'"), std::string::npos) << e;
    }
    {
        AppPlan plan = make_plan(app_env(), "web: no-such-command-here --x\n");
        std::string e = expect_refused(ExportFormat::kSystemd, inputs(plan));
        EXPECT_EQ(e, "systemd: web: command 'no-such-command-here' not found in PATH '/usr/bin:/bin'");
        e = expect_refused(ExportFormat::kSupervisord, inputs(plan));
        EXPECT_NE(e.find("not found in PATH"), std::string::npos);
    }
    {
        AppPlan plan = make_plan(app_env(), "web: /bin/sleep 1 # a comment\n");
        ASSERT_TRUE(plan.jobs[0].shell);
        std::string e = expect_refused(ExportFormat::kSupervisord, inputs(plan));
        EXPECT_NE(e.find("comment"), std::string::npos) << e;
    }
    AppPlan plan = make_plan();
    ExportInputs in = inputs(plan);
    in.only = {"nope"};
    for (auto f : {ExportFormat::kIni, ExportFormat::kJson, ExportFormat::kSystemd, ExportFormat::kSupervisord})
        EXPECT_NE(expect_refused(f, in).find("no process type 'nope'"), std::string::npos);
    in = inputs(plan);
    in.app = "my app";
    for (auto f : {ExportFormat::kIni, ExportFormat::kSystemd, ExportFormat::kSupervisord})
        EXPECT_NE(expect_refused(f, in).find("app name 'my app'"), std::string::npos);
    in = inputs(plan);
    in.user = "bad user";
    EXPECT_NE(expect_refused(ExportFormat::kSystemd, in).find("user 'bad user'"), std::string::npos);
    in = inputs(plan);
    in.root = "relative";
    EXPECT_NE(expect_refused(ExportFormat::kJson, in).find("not an absolute path"), std::string::npos);
    in = inputs(plan);
    in.plan = nullptr;
    EXPECT_EQ(expect_refused(ExportFormat::kIni, in), "ini: no app plan");
}

TEST(AppExport, SecretKeys) {
    for (const char* k : {"API_SECRET", "token", "DB_Password", "SSH_KEY", "keyring", "MONKEY"})
        EXPECT_TRUE(is_secret_key(k)) << k;
    for (const char* k : {"PATH", "PORT", "SECRE", "PASS_WORD", "KE_Y"}) EXPECT_FALSE(is_secret_key(k)) << k;
}

TEST(AppExport, FormatEnvQuotesOnlyWhenNeededAndMasksSecrets) {
    model::Env env = {{"B", "plain-value_1.2:/x"}, {"A", "two words"}, {"Q", "it's"}, {"E", ""}, {"D", "$HOME"},
                      {"API_TOKEN", "abc"},        {"N", "l1\nl2"}};
    EXPECT_EQ(format_env(env, false),
              "A='two words'\nAPI_TOKEN=****\nB=plain-value_1.2:/x\nD='$HOME'\nE=''\nN='l1\nl2'\nQ='it'\\''s'\n");
    EXPECT_EQ(format_env({{"API_TOKEN", "a b"}}, true), "API_TOKEN='a b'\n");
    EXPECT_EQ(format_env({}, false), "");
}

}  // namespace
}  // namespace gaffer::config
