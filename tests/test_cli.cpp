/*
 * test_cli.cpp: the CLI contract shared by every subcommand: `cohort info`, the common
 * flags on each subcommand's --help, and errors as one `error: ...` line with a
 * non-zero exit code.
 */
#include <gtest/gtest.h>

#include <sstream>

#include "cohort/backend.hpp"
#include "tests/test_util.hpp"

namespace cohort {
namespace {

using testing::run_cli;

std::vector<std::string> subcommands() {
  const auto help = run_cli("--help");
  std::vector<std::string> names;
  std::istringstream lines(help.output);
  std::string line;
  bool in_list = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    std::istringstream words(line);
    std::string name;
    if (in_list && (words >> name)) names.push_back(name);
  }
  return names;
}

TEST(Cli, InfoReportsBuildAndDevices) {
  const auto result = run_cli("info");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find(built_with_cuda() ? "build: CUDA on" : "build: CUDA off"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("threads"), std::string::npos);
  if (cuda_devices().empty()) {
    EXPECT_NE(result.output.find("gpu: none"), std::string::npos) << result.output;
  } else {
    EXPECT_NE(result.output.find("compute capability"), std::string::npos) << result.output;
  }
}

TEST(Cli, EverySubcommandHasTheCommonFlags) {
  const auto names = subcommands();
  ASSERT_FALSE(names.empty());
  EXPECT_NE(std::find(names.begin(), names.end(), "info"), names.end());
  for (const auto& name : names) {
    const auto help = run_cli(name + " --help");
    EXPECT_EQ(help.exit_code, 0) << name;
    for (const char* flag : {"--device", "--threads", "--seed", "--quiet", "--verbose", "--help"})
      EXPECT_NE(help.output.find(flag), std::string::npos) << name << " lacks " << flag;
  }
}

TEST(Cli, ErrorsAreOneLineAndNonZero) {
  auto result = run_cli("");
  EXPECT_NE(result.exit_code, 0);
  result = run_cli("no-such-command");
  EXPECT_NE(result.exit_code, 0);
  result = run_cli("info --device tpu");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--device"), std::string::npos) << result.output;
  result = run_cli("info --threads -3");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(result.output.rfind("error: ", 0), 0u) << result.output;
}

}  // namespace
}  // namespace cohort
