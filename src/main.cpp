#include "cli/cli.hpp"

int main(int argc, char** argv) { return skiff::cli::main(argc, argv); }
