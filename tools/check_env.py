"""Check that the installed torch and torchvision import and work together.

PyPI's torchvision fails against a torch build it was not compiled for, either at
import or at the first call of one of its C++ operators, with "operator
torchvision::nms does not exist". Run after every install (`make install` does).
"""
import sys


def main():
    try:
        import torch
        import torchvision
        from torchvision.ops import nms
        boxes = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]])
        kept = nms(boxes, torch.tensor([0.9, 0.8]), iou_threshold=0.5)
    except Exception as e:  # any failure here means the pair is unusable
        print(f'torch and torchvision do not work together: {type(e).__name__}: {e}\n'
              'Install the pair pinned in requirements.txt (PyPI torch===2.13.0 with '
              'torchvision==0.28.0), not a local "+cpu" torch build.', file=sys.stderr)
        return 1
    assert kept.tolist() == [0], kept
    print(f'torch {torch.__version__} and torchvision {torchvision.__version__} '
          'import and run together')
    return 0


if __name__ == '__main__':
    sys.exit(main())
