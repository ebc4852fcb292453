from services.pep.app import SPEC
from shared.service import main

main(SPEC)
