from services.qa.app import SPEC
from shared.service import main

main(SPEC)
