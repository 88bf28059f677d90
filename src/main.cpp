#include "cli/cli.hpp"
#include "linux/sealed_exe.hpp"

int main(int argc, char** argv) {
    skiff::sealed_exe::ensure(argc, argv);
    return skiff::cli::main(argc, argv);
}
