#include "cli.h"

int main(int argc, char** argv) { return nabla::run_cli(argc, argv); }
