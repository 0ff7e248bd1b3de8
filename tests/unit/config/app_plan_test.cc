// SPDX-License-Identifier: MIT
// Unit tests of lib/config/app_plan: concurrency specs, PORT and PS per process (3 types
// x 2 instances), the port base's sources, and the jobs built (argv or sh -c).
#include "lib/config/app_plan.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "lib/model/values.h"

namespace gaffer::config {
namespace {

Procfile three_types() {
    auto p = parse_procfile("web: ./web --port $PORT\nworker: python 'my worker.py'\nclock: ./clock && ./after\n",
                            "Procfile", true);
    EXPECT_TRUE(p);
    return std::move(*p);
}

AppPlanInputs inputs(std::vector<std::string> concurrency = {}, model::Env env = {}) {
    AppPlanInputs in;
    in.session = "myapp";
    in.cwd = "/srv/myapp";
    in.env = std::move(env);
    in.concurrency = std::move(concurrency);
    return in;
}

TEST(AppPlan, PortAndPsForThreeTypesTimesTwoInstances) {
    auto plan = plan_app(three_types(), inputs({"all=2"}));
    ASSERT_TRUE(plan) << plan.error().message();
    EXPECT_EQ(plan->port_base, 5000);
    std::vector<std::pair<std::string, int>> got;
    for (const auto& p : plan->processes) got.emplace_back(p.name, p.port);
    std::vector<std::pair<std::string, int>> want = {{"web.1", 5000},    {"web.2", 5001},   {"worker.1", 5100},
                                                     {"worker.2", 5101}, {"clock.1", 5200}, {"clock.2", 5201}};
    EXPECT_EQ(got, want);
    EXPECT_EQ(plan->processes[3].type, "worker");
    EXPECT_EQ(plan->processes[3].instance, 2);
}

TEST(AppPlan, PortBaseFromOptionThenEnvThenDefault) {
    auto plan = plan_app(three_types(), inputs({}, {{"PORT", "8000"}}));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->processes[1].port, 8100);
    AppPlanInputs in = inputs({}, {{"PORT", "8000"}});
    in.port = 3000;
    plan = plan_app(three_types(), in);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->processes[2].port, 3200);
    EXPECT_EQ(plan->jobs[2].env.at("PORT"), "3200");

    for (const char* bad : {"abc", "0", "65536", "80x", ""}) {
        auto r = plan_app(three_types(), inputs({}, {{"PORT", bad}}));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().context, std::string("PORT '") + bad + "': not a port number (1-65535)");
    }
    in = inputs({"all=2"});
    in.port = 65400;  // web 65400-65401 fits, worker 65500-65501 fits, clock 65600 does not
    auto r = plan_app(three_types(), in);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context, "process type 'clock': its ports would pass 65535 (port base 65400)");
}

TEST(AppPlan, ConcurrencySpecs) {
    Procfile p = three_types();
    auto c = parse_concurrency({"web=2,worker=0"}, p);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<int>{2, 0, 1}));
    c = parse_concurrency({"web=3", "clock=2", "web=4"}, p);  // repeatable, the last wins
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<int>{4, 1, 2}));
    c = parse_concurrency({"worker=5,all=0"}, p);  // a named entry overrides all= in any order
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<int>{0, 5, 0}));
    c = parse_concurrency({" web = 2 "}, p);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<int>{2, 1, 1}));
    c = parse_concurrency({}, p);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, (std::vector<int>{1, 1, 1}));
}

TEST(AppPlan, ConcurrencyErrors) {
    Procfile p = three_types();
    const std::pair<const char*, const char*> cases[] = {
        {"web=abc", "concurrency 'web=abc': the count must be a number from 0 to 100"},
        {"web=-1", "concurrency 'web=-1': the count must be a number from 0 to 100"},
        {"web=101", "concurrency 'web=101': the count must be a number from 0 to 100"},
        {"web=", "concurrency 'web=': the count must be a number from 0 to 100"},
        {"web=99999999999999999999",
         "concurrency 'web=99999999999999999999': the count must be a number from 0 to 100"},
        {"web", "concurrency 'web': expected type=N"},
        {"web=1,", "concurrency '': expected type=N"},
        {"db=1", "concurrency 'db=1': no process type 'db' in the Procfile"},
    };
    for (const auto& [spec, error] : cases) {
        auto c = parse_concurrency({spec}, p);
        ASSERT_FALSE(c) << spec;
        EXPECT_EQ(c.error().code, EINVAL);
        EXPECT_EQ(c.error().context, error);
        auto plan = plan_app(p, inputs({spec}));
        ASSERT_FALSE(plan) << spec;
        EXPECT_EQ(plan.error().context, error);
    }
}

TEST(AppPlan, JobsPerTypeWithCommandEnvAndCounts) {
    auto plan = plan_app(three_types(), inputs({"web=2,worker=0"}, {{"PATH", "/usr/bin"}, {"PS", "outer"}}));
    ASSERT_TRUE(plan) << plan.error().message();
    ASSERT_EQ(plan->jobs.size(), 3u);
    const model::JobSpec& web = plan->jobs[0];
    EXPECT_EQ(web.name.qualified(), "myapp.web");
    EXPECT_EQ(web.numprocesses, 2);
    EXPECT_FALSE(web.shell);
    EXPECT_EQ(web.cmd, "./web");
    EXPECT_EQ(web.args, (std::vector<std::string>{"--port", "$PORT"}));  // §7.3 substitutes at spawn
    EXPECT_EQ(web.cwd, "/srv/myapp");
    EXPECT_FALSE(web.os_env);
    EXPECT_EQ(web.env, (model::Env{{"PATH", "/usr/bin"}, {"PORT", "5000"}, {"PS", "web.1"}}));
    EXPECT_FALSE(web.config_json.empty());
    // The manager gives each instance its own PORT and PS (slot N: PS=<job>.N,
    // PORT=PORT+N-1): exactly those of the planned processes.
    for (const auto& j : plan->jobs) {
        EXPECT_TRUE(j.instance_env) << j.name.job;
        EXPECT_NE(j.config_json.find(R"("instance_env":true)"), std::string::npos) << j.config_json;
    }
    for (const auto& p : plan->processes) {
        const model::JobSpec* j = nullptr;
        for (const auto& job : plan->jobs)
            if (job.name.job == p.type)
                j = &job;
        ASSERT_NE(j, nullptr) << p.name;
        EXPECT_EQ(p.name, j->name.job + "." + std::to_string(p.instance));
        EXPECT_EQ(p.port, std::stoi(j->env.at("PORT")) + p.instance - 1) << p.name;
    }

    const model::JobSpec& worker = plan->jobs[1];
    EXPECT_EQ(worker.numprocesses, 0);  // disabled, still loaded
    EXPECT_EQ(worker.cmd, "python");
    EXPECT_EQ(worker.args, (std::vector<std::string>{"my worker.py"}));

    const model::JobSpec& clock = plan->jobs[2];
    EXPECT_TRUE(clock.shell);
    EXPECT_EQ(clock.cmd, "./clock && ./after");
    EXPECT_EQ(clock.env.at("PORT"), "5200");

    ASSERT_EQ(plan->processes.size(), 3u);  // web.1 web.2 clock.1
    EXPECT_EQ(plan->processes[2].name, "clock.1");
    EXPECT_EQ(plan->processes[2].port, 5200);  // the disabled worker keeps its ports
}

TEST(AppPlan, QuotedProgramNameStaysOneWord) {
    auto p = parse_procfile("web: '/opt/my app/run' -v\n", "Procfile", true);
    ASSERT_TRUE(p);
    auto plan = plan_app(*p, inputs());
    ASSERT_TRUE(plan) << plan.error().message();
    ASSERT_TRUE(model::shell_split(plan->jobs[0].cmd));
    EXPECT_EQ(*model::shell_split(plan->jobs[0].cmd), (std::vector<std::string>{"/opt/my app/run"}));
    EXPECT_EQ(plan->jobs[0].args, (std::vector<std::string>{"-v"}));
}

TEST(AppPlan, Errors) {
    Procfile empty;
    auto r = plan_app(empty, inputs());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context, "the Procfile defines no process type");

    AppPlanInputs in = inputs();
    in.session = "my.app";
    r = plan_app(three_types(), in);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(r.error().context.rfind("process type 'web': ", 0), 0u) << r.error().context;

    r = plan_app(three_types(), inputs({}, {{"BAD", "\xff"}}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context, "environment variable 'BAD': not valid UTF-8 (job configs are JSON)");
}

TEST(AppPlan, NeedsShell) {
    const char* argv_commands[] = {"./web",
                                   "bundle exec rails s -p $PORT",
                                   "python -u 'my app.py'",
                                   "node \"${APP_DIR}/index.js\"",
                                   "a-b c=d --x=y",
                                   "echo a#b"};
    for (const char* c : argv_commands) EXPECT_FALSE(needs_shell(c)) << c;
    const char* shell_commands[] = {"a && b",        "a | b",        "a; b",         "a > log",      "a < in",
                                    "(a)",           "echo `date`",  "echo $(date)", "ls *.txt",     "ls ~/x",
                                    "a # note",      "echo '$HOME'", "echo \\$HOME", "echo ${X:-d}", "echo $1",
                                    "FOO=1 ./web",   "cd app",       "exec ./web",   "if true",      "a {b}",
                                    "echo \"$(x)\"", "a &"};
    for (const char* c : shell_commands) EXPECT_TRUE(needs_shell(c)) << c;
}

}  // namespace
}  // namespace gaffer::config
