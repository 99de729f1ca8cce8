# Sourced by the scripts that run against the GENUINE POE::Component::IKC (check-genuine.sh,
# check-genuine-clients.sh, bench-all.sh): finds the folder perl's -I needs in a checkout the user
# supplies. Accepted layouts: the CPAN/gitpan distribution as unpacked (IKC.pm and IKC/ at the
# top, given the POE/Component/ layout through symlinks in a scratch folder), a built tree
# (blib/lib), or any lib folder holding POE/Component/IKC/<file>.
#
#   lib=$(genuine_lib <checkout> <scratch dir> <file under POE/Component/IKC/, e.g. Server.pm>) || exit 2
genuine_lib() {
  local src=$1 tmp=$2 file=$3 lib
  for lib in "$src" "$src/lib" "$src/blib/lib"; do
    if [ -f "$lib/POE/Component/IKC/$file" ]; then
      echo "$lib"
      return 0
    fi
  done
  if [ -f "$src/IKC/$file" ] && [ -f "$src/IKC.pm" ]; then
    lib=$tmp/lib
    mkdir -p "$lib/POE/Component"
    ln -sfn "$src/IKC.pm" "$lib/POE/Component/IKC.pm"
    ln -sfn "$src/IKC" "$lib/POE/Component/IKC"
    echo "$lib"
    return 0
  fi
  echo "no POE::Component::IKC::${file%.pm} under $src" >&2
  return 2
}
